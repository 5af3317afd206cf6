use std::fmt;
use std::str::FromStr;

/// What a token allows. `admin` implies every other scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    GovernanceRead,
    GovernanceWrite,
    /// Schedule elections, register candidates, submit protocols, certify.
    ElectionsRun,
    BudgetRead,
    BudgetWrite,
    GrantsRead,
    GrantsWrite,
    /// Approve or reject grant applications.
    GrantsDecide,
    /// Verify and read audit logs and change feeds.
    Audit,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 10] = [
        Scope::GovernanceRead,
        Scope::GovernanceWrite,
        Scope::ElectionsRun,
        Scope::BudgetRead,
        Scope::BudgetWrite,
        Scope::GrantsRead,
        Scope::GrantsWrite,
        Scope::GrantsDecide,
        Scope::Audit,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::GovernanceRead => "governance.read",
            Scope::GovernanceWrite => "governance.write",
            Scope::ElectionsRun => "elections.run",
            Scope::BudgetRead => "budget.read",
            Scope::BudgetWrite => "budget.write",
            Scope::GrantsRead => "grants.read",
            Scope::GrantsWrite => "grants.write",
            Scope::GrantsDecide => "grants.decide",
            Scope::Audit => "audit",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(text: &str) -> Result<Scope, String> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == text)
            .ok_or_else(|| format!("unknown scope {text:?}"))
    }
}
