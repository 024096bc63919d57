//! A statement as the shared store writes it: SQL text with `$1, $2 …`
//! placeholders and the values to bind, before any driver sees it.
//!
//! It exists so that each query is written once for both databases: sqlx's
//! SQLite driver maps `$N` to the N-th argument as PostgreSQL does, and a
//! [`Value`] says what a parameter means (an id, a list of texts) rather than
//! how a driver encodes it; each dialect binds it in its own way (an id as
//! hyphenated text or as a native UUID, a list as JSON or as an array).
//!
//! It is also the one place every string passes on its way to a query, so
//! the rule no database may break differently is enforced here: no text
//! containing NUL, which PostgreSQL's `text` refuses (a driver error, so a
//! 500) and SQLite would store. This module must never hold SQL of its own
//! nor know a driver.

use std::borrow::Cow;

use sqlx::query::Query;
use sqlx::{Database, Encode, Type};
use uuid::Uuid;

use portcullis_core::store::StoreError;

/// SQL text and the values of its parameters, in order (`$1` is the first).
#[derive(Debug, Clone)]
pub struct Statement<'a> {
    pub(crate) sql: &'static str,
    pub(crate) values: Vec<Value<'a>>,
}

/// One parameter's value, by what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    Integer(Option<i64>),
    Text(Option<Cow<'a, str>>),
    Bytes(Option<Cow<'a, [u8]>>),
    Flag(bool),
    Id(Option<Uuid>),
    /// A list bound as one parameter, for statements that insert or update
    /// many rows at once.
    Texts(Vec<Cow<'a, str>>),
    Ids(Vec<Uuid>),
    Integers(Vec<i64>),
}

impl<'a> Statement<'a> {
    pub(crate) fn new(sql: &'static str) -> Self {
        Self {
            sql,
            values: Vec::new(),
        }
    }

    /// Appends the next parameter's value.
    pub(crate) fn bind(mut self, value: impl Into<Value<'a>>) -> Self {
        self.values.push(value.into());
        self
    }

    /// The same statement owning its values, to move into a task of its own.
    pub(crate) fn into_owned(self) -> Statement<'static> {
        Statement {
            sql: self.sql,
            values: self.values.into_iter().map(Value::into_owned).collect(),
        }
    }

    /// The statement as a query of `DB`, integers, texts, bytes and flags
    /// bound as themselves, ids and lists by `bind_other`: the one thing a
    /// dialect says about binding.
    pub(crate) fn to_query<'q, DB>(
        &'q self,
        bind_other: impl Fn(
            Query<'q, DB, DB::Arguments<'q>>,
            &'q Value<'a>,
        ) -> Query<'q, DB, DB::Arguments<'q>>,
    ) -> Query<'q, DB, DB::Arguments<'q>>
    where
        DB: Database,
        Option<i64>: Encode<'q, DB> + Type<DB>,
        Option<&'q str>: Encode<'q, DB> + Type<DB>,
        Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
        bool: Encode<'q, DB> + Type<DB>,
    {
        let mut query = sqlx::query(self.sql);
        for value in &self.values {
            query = match value {
                Value::Integer(integer) => query.bind(*integer),
                Value::Text(text) => query.bind(text.as_deref()),
                Value::Bytes(bytes) => query.bind(bytes.as_deref()),
                Value::Flag(flag) => query.bind(*flag),
                Value::Id(_) | Value::Texts(_) | Value::Ids(_) | Value::Integers(_) => {
                    bind_other(query, value)
                }
            };
        }
        query
    }

    /// Refuses the statement when a text it would bind contains NUL.
    pub(crate) fn refuse_nul(&self) -> Result<(), StoreError> {
        let texts = self.values.iter().flat_map(|value| match value {
            Value::Text(Some(text)) => std::slice::from_ref(text),
            Value::Texts(texts) => texts.as_slice(),
            _ => &[],
        });
        for text in texts {
            refuse_nul(text)?;
        }
        Ok(())
    }
}

impl Value<'_> {
    fn into_owned(self) -> Value<'static> {
        let owned = |text: Cow<'_, str>| Cow::Owned(text.into_owned());
        match self {
            Self::Integer(value) => Value::Integer(value),
            Self::Text(text) => Value::Text(text.map(owned)),
            Self::Bytes(bytes) => Value::Bytes(bytes.map(|bytes| Cow::Owned(bytes.into_owned()))),
            Self::Flag(value) => Value::Flag(value),
            Self::Id(id) => Value::Id(id),
            Self::Texts(texts) => Value::Texts(texts.into_iter().map(owned).collect()),
            Self::Ids(ids) => Value::Ids(ids),
            Self::Integers(values) => Value::Integers(values),
        }
    }
}

/// [`StoreError::Other`] when `text` contains the NUL character.
pub(crate) fn refuse_nul(text: &str) -> Result<(), StoreError> {
    if text.contains('\0') {
        Err(StoreError::Other(
            "refused: a text value contains the NUL character".into(),
        ))
    } else {
        Ok(())
    }
}

impl From<i64> for Value<'_> {
    fn from(value: i64) -> Self {
        Self::Integer(Some(value))
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(value: Option<i64>) -> Self {
        Self::Integer(value)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(value: &'a str) -> Self {
        Self::Text(Some(Cow::Borrowed(value)))
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(value: Option<&'a str>) -> Self {
        Self::Text(value.map(Cow::Borrowed))
    }
}

impl From<String> for Value<'_> {
    fn from(value: String) -> Self {
        Self::Text(Some(Cow::Owned(value)))
    }
}

impl From<Option<String>> for Value<'_> {
    fn from(value: Option<String>) -> Self {
        Self::Text(value.map(Cow::Owned))
    }
}

impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(value: &'a [u8]) -> Self {
        Self::Bytes(Some(Cow::Borrowed(value)))
    }
}

impl<'a> From<Option<&'a [u8]>> for Value<'a> {
    fn from(value: Option<&'a [u8]>) -> Self {
        Self::Bytes(value.map(Cow::Borrowed))
    }
}

impl From<bool> for Value<'_> {
    fn from(value: bool) -> Self {
        Self::Flag(value)
    }
}

impl From<Uuid> for Value<'_> {
    fn from(value: Uuid) -> Self {
        Self::Id(Some(value))
    }
}

impl From<Option<Uuid>> for Value<'_> {
    fn from(value: Option<Uuid>) -> Self {
        Self::Id(value)
    }
}

impl<'a> From<Vec<&'a str>> for Value<'a> {
    fn from(value: Vec<&'a str>) -> Self {
        Self::Texts(value.into_iter().map(Cow::Borrowed).collect())
    }
}

impl From<Vec<Uuid>> for Value<'_> {
    fn from(value: Vec<Uuid>) -> Self {
        Self::Ids(value)
    }
}

impl From<Vec<i64>> for Value<'_> {
    fn from(value: Vec<i64>) -> Self {
        Self::Integers(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_anywhere_in_a_text_refuses_the_statement() {
        #[track_caller]
        fn check(statement: &Statement<'_>, refused: bool) {
            let result = statement.refuse_nul();
            assert_eq!(
                matches!(&result, Err(StoreError::Other(message)) if message.contains("NUL")),
                refused,
                "{statement:?}: {result:?}"
            );
        }
        let select = || Statement::new("SELECT $1, $2");
        check(&select().bind("plain").bind(Some("text")), false);
        check(&select().bind("a\0b").bind(1), true);
        check(&select().bind(None::<&str>).bind(Some("\0")), true);
        check(&select().bind(vec!["one", "tw\0o"]), true);
        check(&select().bind(vec!["one", "two"]).bind(vec![1, 2]), false);
        // Bytes may hold any byte: hashes and keys are binary.
        check(&select().bind(&b"\0\0"[..]).bind(Uuid::nil()), false);
        // Owned, the same.
        check(&select().bind(String::from("a\0")).into_owned(), true);
    }

    #[test]
    fn an_owned_statement_keeps_every_value() {
        let text = String::from("borrowed");
        let statement = Statement::new("SELECT $1, $2, $3, $4")
            .bind(text.as_str())
            .bind(&b"bytes"[..])
            .bind(vec![text.as_str()])
            .bind(Some(7));
        let owned = statement.into_owned();
        drop(text);
        assert_eq!(owned.sql, "SELECT $1, $2, $3, $4");
        assert_eq!(
            owned.values,
            [
                Value::from("borrowed"),
                Value::from(&b"bytes"[..]),
                Value::from(vec!["borrowed"]),
                Value::from(Some(7)),
            ]
        );
    }
}
