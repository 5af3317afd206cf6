//! Refusals in the caller's language: every service, and the gateway in front
//! of them, adds a `google.rpc.LocalizedMessage` (kk, ru or en, from the
//! `accept-language` header) beside the English message and the rich details.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aimaq_e2e::scenario::channel;
use aimaq_e2e::system::{System, generous};
use aimaq_proto::budget::v1::GetProgramRequest;
use aimaq_proto::budget::v1::budget_service_client::BudgetServiceClient;
use aimaq_proto::grants::v1::ListApplicationsRequest;
use aimaq_proto::grants::v1::grants_service_client::GrantsServiceClient;
use aimaq_testing::with_token;
use tonic::Code;
use tonic_types::StatusExt;

fn in_language<T>(message: T, token: &str, language: Option<&str>) -> tonic::Request<T> {
    let mut request = with_token(message, token);
    if let Some(language) = language {
        request
            .metadata_mut()
            .insert("accept-language", language.parse().unwrap());
    }
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_speak_the_callers_language_through_the_gateway() {
    let system = System::start().await;
    let gateway = system.gateway(system.targets(), generous(), None).await;
    let token = system.tokens.admin();
    let channel = channel(&gateway).await;
    let mut grants = GrantsServiceClient::new(channel.clone());
    let malformed = ListApplicationsRequest {
        iin: "900101300008".into(),
        ..ListApplicationsRequest::default()
    };
    for (language, locale, text) in [
        (
            Some("ru-RU,ru;q=0.9"),
            "ru",
            "Запрос отклонён, проверьте поля: iin.",
        ),
        (
            Some("kk"),
            "kk",
            "Сұрау қабылданбады, мына өрістерді тексеріңіз: iin.",
        ),
    ] {
        let refused = grants
            .list_applications(in_language(malformed.clone(), &token, language))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        // The English message and the field violations are still there.
        assert!(refused.message().contains("iin"), "{refused:?}");
        assert_eq!(
            refused.get_details_bad_request().unwrap().field_violations[0].field,
            "iin"
        );
        let localized = refused.get_details_localized_message().unwrap();
        assert_eq!(
            (localized.locale.as_str(), localized.message.as_str()),
            (locale, text)
        );
    }
    // No language asked: English, the status's own message.
    let english = grants
        .list_applications(in_language(malformed, &token, None))
        .await
        .unwrap_err();
    let localized = english.get_details_localized_message().unwrap();
    assert_eq!(localized.locale, "en");
    assert_eq!(localized.message, english.message());

    // A resource that is not there, in Russian, named.
    let missing = BudgetServiceClient::new(channel)
        .get_program(in_language(
            GetProgramRequest {
                code: "NO_SUCH".into(),
            },
            &token,
            Some("ru"),
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(
        missing.get_details_localized_message().unwrap().message,
        "Не найдено: programs/NO_SUCH."
    );
}
