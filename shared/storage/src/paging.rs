//! Keyset pagination shared by every list RPC: a page size with a default and a
//! ceiling, and opaque page tokens that carry the last key of the previous page,
//! so pages stay stable while rows are added.

use aimaq_error::Error;

pub const DEFAULT_PAGE_SIZE: u64 = 50;
pub const MAX_PAGE_SIZE: u64 = 1000;
const TOKEN_VERSION: &str = "k1:";

/// A validated page request: how many rows, after which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub size: u64,
    pub after: Option<String>,
}

impl Page {
    /// From a request's `page_size` (0 for the default) and `page_token`.
    pub fn from_request(page_size: i32, page_token: &str) -> Result<Page, Error> {
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 => return Err(Error::invalid("page_size", "must not be negative")),
            n => u64::try_from(n).unwrap_or(MAX_PAGE_SIZE).min(MAX_PAGE_SIZE),
        };
        let after = if page_token.is_empty() {
            None
        } else {
            Some(decode(page_token).ok_or_else(|| {
                Error::invalid(
                    "page_token",
                    "not a token from a previous page of this list",
                )
            })?)
        };
        Ok(Page { size, after })
    }

    /// Rows to fetch: one more than the page, to learn whether another follows.
    pub fn fetch_limit(&self) -> u64 {
        self.size + 1
    }

    /// Trims the fetched rows to the page and returns the next page's token
    /// (empty on the last page). `key` gives a row's ordering key.
    pub fn finish<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> String) -> (Vec<T>, String) {
        let more = rows.len() as u64 > self.size;
        rows.truncate(usize::try_from(self.size).unwrap_or(usize::MAX));
        let token = match rows.last() {
            Some(last) if more => encode(&key(last)),
            _ => String::new(),
        };
        (rows, token)
    }
}

/// One page of `query` in the order of its numeric key column `id`, after the
/// page's key; `key` reads a row's id.
pub async fn by_id<E>(
    db: &impl sea_orm::ConnectionTrait,
    query: sea_orm::Select<E>,
    id: E::Column,
    page: &Page,
    key: impl Fn(&E::Model) -> i64,
) -> Result<(Vec<E::Model>, String), Error>
where
    E: sea_orm::EntityTrait,
{
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
    let mut query = query;
    if let Some(after) = &page.after {
        let after: i64 = after
            .parse()
            .map_err(|_| Error::invalid("page_token", "malformed"))?;
        query = query.filter(id.gt(after));
    }
    let rows = query
        .order_by_asc(id)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    Ok(page.finish(rows, |row| key(row).to_string()))
}

/// One page of `query` in the order of a text column and then its numeric key
/// `id` (a subtree's rows by place: the order of an index on the pair), after
/// the page's key; `key` reads a row's pair.
pub async fn by_text_and_id<E>(
    db: &impl sea_orm::ConnectionTrait,
    query: sea_orm::Select<E>,
    (text, id): (E::Column, E::Column),
    page: &Page,
    key: impl Fn(&E::Model) -> (String, i64),
) -> Result<(Vec<E::Model>, String), Error>
where
    E: sea_orm::EntityTrait,
{
    use sea_orm::{ColumnTrait, Condition, QueryFilter, QueryOrder, QuerySelect};
    let mut query = query;
    if let Some(after) = &page.after {
        let (text_after, id_after) = after
            .rsplit_once('/')
            .and_then(|(t, i)| Some((t.to_owned(), i.parse::<i64>().ok()?)))
            .ok_or_else(|| Error::invalid("page_token", "malformed"))?;
        query = query.filter(
            Condition::any().add(text.gt(text_after.clone())).add(
                Condition::all()
                    .add(text.eq(text_after))
                    .add(id.gt(id_after)),
            ),
        );
    }
    let rows = query
        .order_by_asc(text)
        .order_by_asc(id)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    Ok(page.finish(rows, |row| {
        let (text, id) = key(row);
        format!("{text}/{id}")
    }))
}

fn encode(key: &str) -> String {
    hex::encode(format!("{TOKEN_VERSION}{key}"))
}

fn decode(token: &str) -> Option<String> {
    let bytes = hex::decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix(TOKEN_VERSION).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_default_and_cap() {
        assert_eq!(Page::from_request(0, "").unwrap().size, DEFAULT_PAGE_SIZE);
        assert_eq!(Page::from_request(5000, "").unwrap().size, MAX_PAGE_SIZE);
        assert!(matches!(
            Page::from_request(-1, ""),
            Err(Error::InvalidArgument(v)) if v[0].field == "page_size"
        ));
    }

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let page = Page::from_request(2, "").unwrap();
        let (rows, token) = page.finish(vec!["a", "b", "c"], |r| r.to_string());
        assert_eq!(rows, ["a", "b"]);
        let next = Page::from_request(2, &token).unwrap();
        assert_eq!(next.after.as_deref(), Some("b"));
        let (rows, token) = next.finish(vec!["c"], |r| r.to_string());
        assert_eq!((rows, token), (vec!["c"], String::new()));
        for bad in ["zz", "6b", "abcd"] {
            assert!(matches!(
                Page::from_request(2, bad),
                Err(Error::InvalidArgument(v)) if v[0].field == "page_token"
            ));
        }
    }
}
