//! Which replica relays, and how far it got: one row per relay in
//! `feed_relays`. A replica relays while it holds the row's lease; it renews
//! the lease, and records the last sequence JetStream acknowledged, only
//! while the row still names it, so a replica that lost the lease (paused,
//! cut off) can neither move the position nor keep relaying past its next
//! renewal. Times are the replicas' clocks: they must agree to well within
//! the lease.

use std::time::Duration;

use aimaq_error::Error;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string};

pub mod feed_relay {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "feed_relays")]
    pub struct Model {
        /// The relay: its destination, as `jetstream`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        /// The last change sequence the destination acknowledged.
        pub sequence: i64,
        /// The replica holding the lease.
        pub holder: String,
        pub lease_until_micros: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use feed_relay::{Column, Entity};

/// One replica's claim on one relay.
#[derive(Clone, Debug)]
pub struct Lease {
    pub relay: String,
    pub holder: String,
    pub length: Duration,
}

impl Lease {
    /// Takes the lease if it is free, lapsed or already this replica's, and
    /// renews it; returns the position to resume after, or None when
    /// another replica holds it.
    pub async fn claim(&self, db: &impl ConnectionTrait) -> Result<Option<i64>, Error> {
        let now = now_micros();
        // The row exists once; inserting it again does nothing.
        Entity::insert(feed_relay::ActiveModel {
            name: sea_orm::Set(self.relay.clone()),
            sequence: sea_orm::Set(0),
            holder: sea_orm::Set(String::new()),
            lease_until_micros: sea_orm::Set(0),
        })
        .on_conflict_do_nothing()
        .exec(db)
        .await?;
        let taken = Entity::update_many()
            .col_expr(Column::Holder, Expr::value(self.holder.clone()))
            .col_expr(Column::LeaseUntilMicros, Expr::value(self.until(now)))
            .filter(Column::Name.eq(&self.relay))
            .filter(
                Condition::any()
                    .add(Column::Holder.eq(&self.holder))
                    .add(Column::LeaseUntilMicros.lt(now)),
            )
            .exec(db)
            .await?;
        if taken.rows_affected == 0 {
            return Ok(None);
        }
        let row = Entity::find_by_id(self.relay.clone()).one(db).await?;
        Ok(row.map(|row| row.sequence))
    }

    /// Records that the destination acknowledged up to `sequence`, renewing
    /// the lease; false when this replica no longer holds it.
    pub async fn advance(&self, db: &impl ConnectionTrait, sequence: i64) -> Result<bool, Error> {
        let now = now_micros();
        let moved = Entity::update_many()
            .col_expr(Column::Sequence, Expr::value(sequence))
            .col_expr(Column::LeaseUntilMicros, Expr::value(self.until(now)))
            .filter(Column::Name.eq(&self.relay))
            .filter(Column::Holder.eq(&self.holder))
            .filter(Column::LeaseUntilMicros.gte(now))
            .exec(db)
            .await?;
        Ok(moved.rows_affected == 1)
    }

    /// Lets the lease go at once (a draining replica), so another need not
    /// wait for it to lapse.
    pub async fn release(&self, db: &impl ConnectionTrait) -> Result<(), Error> {
        Entity::update_many()
            .col_expr(Column::LeaseUntilMicros, Expr::value(0i64))
            .filter(Column::Name.eq(&self.relay))
            .filter(Column::Holder.eq(&self.holder))
            .exec(db)
            .await?;
        Ok(())
    }

    fn until(&self, now: i64) -> i64 {
        now.saturating_add(
            <i64 as TryFrom<u128>>::try_from(self.length.as_micros()).unwrap_or(i64::MAX),
        )
    }
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Adds `feed_relays`.
pub struct FeedRelays;

impl MigrationName for FeedRelays {
    fn name(&self) -> &str {
        "m0000_feed_relays"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for FeedRelays {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("feed_relays")
                    .if_not_exists()
                    .col(string("name").primary_key())
                    .col(big_integer("sequence"))
                    .col(string("holder"))
                    .col(big_integer("lease_until_micros"))
                    .to_owned(),
            )
            .await
    }
}
