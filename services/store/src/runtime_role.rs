//! The database role the services run as, without DDL rights: the migrations run as another
//! role (the schema's owner, in the migration Job), which then grants this one what the
//! services do at run time and nothing more: read and write rows, use sequences, call the
//! schema's functions (month partitions are made and dropped by `wb_maintain_partitions`, which
//! runs as the owner). It can create, alter, drop or truncate nothing.

use sqlx::PgPool;

/// Whether `name` can be written as a role without quoting: lower-case letters, digits and `_`,
/// not starting with a digit, at most 63 bytes (PostgreSQL's identifier length).
pub fn is_plain_role_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// Grants `role` (which must exist) the run-time rights on everything the migrations made, and
/// on what the owner makes later (new partitions). Run by the role that ran the migrations.
pub async fn grant(pool: &PgPool, role: &str) -> Result<(), sqlx::Error> {
    if !is_plain_role_name(role) {
        return Err(sqlx::Error::Configuration(
            format!("the runtime role {role:?} must be lower-case letters, digits and _").into(),
        ));
    }
    let statements = [
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}"),
        format!("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {role}"),
        format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public \
             GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}"
        ),
        format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public \
             GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}"
        ),
        // PostgreSQL before 15 lets every role create in `public`.
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC".to_owned(),
    ];
    let mut transaction = pool.begin().await?;
    for statement in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_taken() {
        assert!(is_plain_role_name("wellbeing_app"));
        assert!(!is_plain_role_name("app; DROP TABLE users"));
        assert!(!is_plain_role_name("App"));
        assert!(!is_plain_role_name("1app"));
        assert!(!is_plain_role_name(""));
    }
}
