//! Change events carry their resource as the service's message, and the audit
//! log commits to it: the message reaches the feed as it was made, and one
//! edited in the feed's table is found by the log's check.

use aimaq_proto::common::v1::LocalizedText;
use aimaq_testing::{TestDatabase, on_both_backends};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use tokio::sync::watch;

use super::{events, mutation, replica};
use crate::{Change, ChangeAction, ResourceMessages};

/// What an operation of the test hands over with its change.
#[derive(Debug, Clone)]
struct Label(String);

fn labelled(label: &Label) -> LocalizedText {
    LocalizedText {
        en: label.0.clone(),
        ..LocalizedText::default()
    }
}

async fn put_labelled(records: &crate::Records, request_id: &str, label: Option<&str>) {
    let change = Change {
        resource_type: "thing",
        resource_name: format!("things/{request_id}"),
        action: ChangeAction::Created,
        version: 1,
        resource: None,
    };
    let change = match label {
        Some(label) => change.holding(Label(label.to_owned())),
        None => change,
    };
    records
        .apply(&mutation(request_id), |transaction: DatabaseTransaction| {
            let change = change.clone();
            crate::within(transaction, async move |_: &DatabaseTransaction| {
                Ok(((), vec![change]))
            })
        })
        .await
        .unwrap();
}

async fn events_carry_their_resource_and_the_log_covers_it(database: TestDatabase) {
    let (_stop, shutdown) = watch::channel(false);
    let records = replica(&database.url, &shutdown)
        .await
        .with_messages(ResourceMessages::default().with("thing", labelled));
    put_labelled(&records, "a", Some("Aimaq")).await;
    put_labelled(&records, "b", None).await;
    let feed = events(&records, 2).await;
    let carried = feed[0].resource.as_ref().expect("the held value's message");
    assert_eq!(
        carried.type_url,
        "type.googleapis.com/aimaq.common.v1.LocalizedText"
    );
    assert_eq!(carried.to_msg::<LocalizedText>().unwrap().en, "Aimaq");
    assert_eq!(
        feed[1].resource, None,
        "nothing held, no row: nothing carried"
    );

    let verify =
        || crate::audit::verify_audit_log(records.database(), &records.keys, &records.states);
    records.sequence_pending().await.unwrap();
    let before = verify().await.unwrap();
    assert!(before.intact, "{before:?}");
    // The same message with another label, written past the service.
    let forged = prost::Message::encode_to_vec(
        &prost_types::Any::from_msg(&labelled(&Label("Forged".to_owned()))).unwrap(),
    );
    let connection = records.database().connection();
    let backend = connection.get_database_backend();
    connection
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DatabaseBackend::Postgres => {
                    "UPDATE change_events SET resource = $1 WHERE sequence = 1"
                }
                _ => "UPDATE change_events SET resource = ? WHERE sequence = 1",
            },
            [forged.into()],
        ))
        .await
        .unwrap();
    let verification = verify().await.unwrap();
    assert!(!verification.intact);
    assert!(
        verification.reason.contains("change events 1..1 differ"),
        "{}",
        verification.reason
    );
}

on_both_backends!(events_carry_their_resource_and_the_log_covers_it);
