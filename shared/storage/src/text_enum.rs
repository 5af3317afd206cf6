//! Status and kind columns: text in the table, a domain enum in the code.

/// Declares `$column`, the stored form of the domain enum `$domain` (which must
/// be in scope): a sea-orm `DeriveActiveEnum` over a text column, with the
/// conversions both ways. An entity field of type `$column` is read as the enum,
/// so a value no variant knows fails the read by its column instead of being
/// parsed later.
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* $column:ident for $domain:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, sea_orm::EnumIter, sea_orm::DeriveActiveEnum)]
        #[sea_orm(rs_type = "String", db_type = "Text")]
        pub enum $column {
            $(#[sea_orm(string_value = $text)] $variant),+
        }

        impl From<$column> for $domain {
            fn from(value: $column) -> $domain {
                match value {
                    $($column::$variant => $domain::$variant),+
                }
            }
        }

        impl From<$domain> for $column {
            fn from(value: $domain) -> $column {
                match value {
                    $($domain::$variant => $column::$variant),+
                }
            }
        }
    };
}
