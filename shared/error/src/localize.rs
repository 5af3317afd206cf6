//! What an error says to a person in their language (Kazakh, Russian or
//! English), carried as a `google.rpc.LocalizedMessage` beside the English
//! message. The Kazakh and Russian texts name the kind of refusal and what it
//! concerns (the fields, the resource, the condition); the English message
//! keeps the full account.

use aimaq_types::Language;
use tonic::Code;
use tonic_types::ErrorDetails;

/// The text of a refusal with `code` and `details` in `language`; `english`
/// is the status's own message, which English callers get as it is.
pub fn localized(language: Language, code: Code, english: &str, details: &ErrorDetails) -> String {
    if language == Language::En {
        return english.to_owned();
    }
    let kk = language == Language::Kk;
    let fields: Vec<&str> = details
        .bad_request()
        .map(|request| {
            request
                .field_violations
                .iter()
                .map(|v| v.field.as_str())
                .collect()
        })
        .unwrap_or_default();
    let resource = details
        .resource_info()
        .map(|info| info.resource_name.clone())
        .unwrap_or_default();
    let subjects: Vec<&str> = details
        .precondition_failure()
        .map(|failure| {
            failure
                .violations
                .iter()
                .map(|v| v.subject.as_str())
                .collect()
        })
        .unwrap_or_default();
    let (kk_text, ru_text) = phrase(code);
    let text = if kk { kk_text } else { ru_text };
    let concerning = match code {
        Code::InvalidArgument => fields.join(", "),
        Code::NotFound | Code::AlreadyExists => resource,
        Code::FailedPrecondition => subjects.join(", "),
        _ => String::new(),
    };
    let sums = crate::amount::written(language, details);
    match (concerning.is_empty(), sums.is_empty()) {
        (true, true) => format!("{text}."),
        (false, true) => format!("{text}: {concerning}."),
        (true, false) => format!("{text} ({sums})."),
        (false, false) => format!("{text}: {concerning} ({sums})."),
    }
}

/// A refusal's kind in Kazakh and in Russian.
fn phrase(code: Code) -> (&'static str, &'static str) {
    match code {
        Code::InvalidArgument => (
            "Сұрау қабылданбады, мына өрістерді тексеріңіз",
            "Запрос отклонён, проверьте поля",
        ),
        Code::NotFound => ("Табылмады", "Не найдено"),
        Code::AlreadyExists => ("Бұрыннан бар", "Уже существует"),
        Code::FailedPrecondition => (
            "Ағымдағы күйде орындау мүмкін емес",
            "Невозможно выполнить в текущем состоянии",
        ),
        Code::Aborted => (
            "Жазбаны басқа сұрау өзгертті; оны қайта оқып, сұрауды қайталаңыз",
            "Запись изменена другим запросом; прочитайте её снова и повторите запрос",
        ),
        Code::Unauthenticated => ("Жарамды токен қажет", "Требуется действительный токен"),
        Code::PermissionDenied => ("Бұл әрекетке рұқсат жоқ", "Нет прав на это действие"),
        Code::ResourceExhausted => (
            "Сұраулар шегінен асты; кейінірек қайталаңыз",
            "Превышен лимит запросов; повторите позже",
        ),
        Code::Unavailable => (
            "Қызмет уақытша қолжетімсіз; қайталаңыз",
            "Сервис временно недоступен; повторите запрос",
        ),
        Code::DeadlineExceeded => ("Жауап күту уақыты өтті", "Истекло время ожидания ответа"),
        Code::Cancelled => ("Сұрау тоқтатылды", "Запрос отменён"),
        Code::Internal => (
            "Ішкі қате; ол журналға жазылды",
            "Внутренняя ошибка; она записана в журнал",
        ),
        _ => ("Сұрау орындалмады", "Запрос не выполнен"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::FieldViolation;

    #[test]
    fn a_refusal_is_named_in_the_callers_language() {
        let details = ErrorDetails::with_bad_request(vec![
            FieldViolation::new("iin", "bad check digit"),
            FieldViolation::new("year", "out of range"),
        ]);
        let english = "invalid request: iin: bad check digit; year: out of range";
        assert_eq!(
            localized(Language::Ru, Code::InvalidArgument, english, &details),
            "Запрос отклонён, проверьте поля: iin, year."
        );
        assert_eq!(
            localized(Language::Kk, Code::InvalidArgument, english, &details),
            "Сұрау қабылданбады, мына өрістерді тексеріңіз: iin, year."
        );
        assert_eq!(
            localized(Language::En, Code::InvalidArgument, english, &details),
            english
        );
        let missing = ErrorDetails::with_resource_info("program", "programs/X", "", "");
        assert_eq!(
            localized(Language::Ru, Code::NotFound, "", &missing),
            "Не найдено: programs/X."
        );
        assert_eq!(
            localized(
                Language::Kk,
                Code::PermissionDenied,
                "",
                &ErrorDetails::new()
            ),
            "Бұл әрекетке рұқсат жоқ."
        );
    }
}
