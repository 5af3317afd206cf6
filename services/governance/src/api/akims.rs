//! AppointAkim and GetAkim: the holders of akim posts.

use aimaq_auth::{Caller, Scope};
use aimaq_error::{Error, Violations};
use aimaq_proto::governance::v1::{
    Akim, AkimMandate, AppointAkimRequest, AppointAkimResponse, GetAkimRequest, GetAkimResponse,
};
use aimaq_proto::{date_from_proto, date_to_proto};
use aimaq_records::{Mutation, Records};
use aimaq_types::Iin;

use super::convert::kato;
use crate::domain::election::Mandate;
use crate::ops;
use crate::ops::akims::Appoint;
use crate::store::akim::{self, Model};
use crate::store::election::{self as election, parse_name};

pub fn akim_to_proto(model: &Model) -> Akim {
    Akim {
        name: akim::name(model.id),
        territory_kato: model.territory_kato.clone(),
        iin: model.iin.clone(),
        full_name: model.full_name.clone(),
        mandate: match Mandate::from(model.mandate) {
            Mandate::Elected => AkimMandate::Elected,
            Mandate::Appointed => AkimMandate::Appointed,
        } as i32,
        term_start: Some(date_to_proto(model.term_start)),
        term_end: model.term_end.map(date_to_proto),
        left_office: model.left_office.map(date_to_proto),
        election: model.election_id.map(election::name).unwrap_or_default(),
        version: model.version,
    }
}

pub async fn get(records: &Records, request: &GetAkimRequest) -> Result<GetAkimResponse, Error> {
    let territory = kato("territory_kato", &request.territory_kato)?;
    let history = ops::akims::history(records, territory).await?;
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
            parse_name("election", &body.election)
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
    let asked = Appoint {
        territory,
        iin,
        full_name: body.full_name.trim().to_owned(),
        elected,
        term_start,
        term_end,
        election,
    };
    ops::akims::appoint(records, &mutation, &asked, |akim, predecessor| {
        AppointAkimResponse {
            akim: Some(akim_to_proto(akim)),
            predecessor: predecessor.map(akim_to_proto),
        }
    })
    .await
}
