//! AppointAkim and GetAkim: the holders of akim posts.

use aimaq_auth::{Caller, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::governance::v1::{
    Akim, AkimMandate, AppointAkimRequest, AppointAkimResponse, GetAkimRequest, GetAkimResponse,
};
use aimaq_proto::{date_from_proto, date_to_proto};
use aimaq_records::{Change, ChangeAction, Mutation, Records, within};
use aimaq_types::Iin;

use super::convert::kato;
use super::elections::{election_id, election_name};
use crate::domain::election::{check_term_limit, elected_term_end};
use crate::store;

pub fn akim_to_proto(model: &store::akim::Model) -> Akim {
    Akim {
        name: format!("akims/{}", model.id),
        territory_kato: model.territory_kato.clone(),
        iin: model.iin.clone(),
        full_name: model.full_name.clone(),
        mandate: if model.mandate == "elected" {
            AkimMandate::Elected
        } else {
            AkimMandate::Appointed
        } as i32,
        term_start: Some(date_to_proto(model.term_start)),
        term_end: model.term_end.map(date_to_proto),
        left_office: model.left_office.map(date_to_proto),
        election: model.election_id.map(election_name).unwrap_or_default(),
        version: model.version,
    }
}

pub async fn get(records: &Records, request: &GetAkimRequest) -> Result<GetAkimResponse, Error> {
    let territory = kato("territory_kato", &request.territory_kato)?;
    let history =
        store::akim::history(records.database().connection(), &territory.to_string()).await?;
    Ok(GetAkimResponse {
        current: history
            .iter()
            .rev()
            .find(|a| a.left_office.is_none())
            .map(akim_to_proto),
        history: history.iter().rev().map(akim_to_proto).collect(),
    })
}

pub async fn appoint(
    records: &Records,
    request: &tonic::Request<AppointAkimRequest>,
) -> Result<AppointAkimResponse, Error> {
    let caller = Caller::of(request)?;
    caller.require(Scope::GovernanceWrite)?;
    let body = request.get_ref();
    let mut violations = Violations::new();
    let territory = violations.take(
        "territory_kato",
        aimaq_types::Kato::parse(&body.territory_kato),
    );
    let iin = violations.take("iin", Iin::parse(&body.iin));
    violations.check(
        !body.full_name.trim().is_empty() && body.full_name.chars().count() <= 200,
        "full_name",
        "required, at most 200 characters",
    );
    let elected = match AkimMandate::try_from(body.mandate) {
        Ok(AkimMandate::Appointed) => false,
        Ok(AkimMandate::Elected) => true,
        _ => {
            violations.add("mandate", "required: APPOINTED or ELECTED");
            false
        }
    };
    let term_start = body.term_start.as_ref().and_then(date_from_proto);
    violations.check(
        term_start.is_some(),
        "term_start",
        "required: a calendar date",
    );
    let term_end = match &body.term_end {
        Some(date) => {
            let end = date_from_proto(date);
            violations.check(
                end.is_some_and(|end| term_start.is_none_or(|start| end > start)),
                "term_end",
                "must be a calendar date after term_start",
            );
            end
        }
        None => None,
    };
    let election = if elected {
        violations.take(
            "election",
            election_id("election", &body.election)
                .map_err(|_| "required for an elected akim: elections/{id}"),
        )
    } else {
        violations.check(
            body.election.is_empty(),
            "election",
            "only an elected akim names an election",
        );
        None
    };
    let (territory, iin, term_start) = violations.then(|| Some((territory?, iin?, term_start?)))?;
    caller.require_write_at(territory)?;
    let mutation = Mutation::of(request, body, &body.request_id)?;
    let full_name = body.full_name.trim();
    records
        .apply(&mutation, |tx| {
            within(tx, async move |tx| {
                store::territory::require(tx, territory).await?;
                let code = territory.to_string();
                if let Some(id) = election {
                    let record = store::election::find(tx, id, false)
                        .await?
                        .ok_or_else(|| Error::not_found("election", election_name(id)))?;
                    let won = record.election.status == "certified"
                        && record.election.territory_kato == code
                        && record.candidates.iter().any(|c| c.iin == iin.to_string());
                    if !won {
                        return Err(Error::precondition(
                            "ELECTED",
                            election_name(id),
                            format!("{} is not a certified election of {code} with {iin} among its candidates", election_name(id)),
                        ));
                    }
                    let history: Vec<(String, bool)> = store::akim::history(tx, &code)
                        .await?
                        .into_iter()
                        .map(|a| (a.iin, a.mandate == "elected"))
                        .collect();
                    check_term_limit(&history, &iin.to_string())?;
                }
                let term_end = if elected {
                    Some(term_end.unwrap_or(elected_term_end(term_start)))
                } else {
                    term_end
                };
                let iin_text = iin.to_string();
                let (akim, predecessor) = store::akim::appoint(
                    tx,
                    store::akim::NewAkim {
                        territory_kato: &code,
                        iin: &iin_text,
                        full_name,
                        elected,
                        term_start,
                        term_end,
                        election_id: election,
                    },
                )
                .await?;
                let mut changes = vec![Change {
                    resource_type: "akim",
                    resource_name: format!("akims/{}", akim.id),
                    action: ChangeAction::Created,
                    version: akim.version,
                }];
                if let Some(previous) = &predecessor {
                    changes.push(Change {
                        resource_type: "akim",
                        resource_name: format!("akims/{}", previous.id),
                        action: ChangeAction::Updated,
                        version: previous.version,
                    });
                }
                Ok((
                    AppointAkimResponse {
                        akim: Some(akim_to_proto(&akim)),
                        predecessor: predecessor.as_ref().map(akim_to_proto),
                    },
                    changes,
                ))
            })
        })
        .await
}
