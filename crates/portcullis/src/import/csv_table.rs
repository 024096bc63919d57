//! CSV with a header row naming its columns: `email` (required), `name`,
//! `password_hash`, `email_verified`, `roles` (names separated by spaces,
//! which no role name holds), `disabled`, `created_at`, in any order. An
//! empty cell is a field not given.
//!
//! The `csv` crate reads one record at a time (quotes, embedded newlines
//! and a record's starting line handled), so memory stays flat. A header
//! with an unknown or missing column stops the import before anything is
//! written; a record with more or fewer fields than the header, or one that
//! is not UTF-8, is reported with the line it starts on, and reading goes
//! on. This module must never keep more than one record.

use std::io::Read;

use portcullis_core::services::import::{ImportedPassword, ImportedUser};

use crate::import::entries::{self, Entry, Location, ReadError, Sender};

/// The columns, as a header names them.
const COLUMNS: [&str; 7] = [
    "email",
    "name",
    "password_hash",
    "email_verified",
    "roles",
    "disabled",
    "created_at",
];

/// Sends every record of `input` as an entry.
pub(crate) fn read(input: impl Read, sender: &mut Sender) -> Result<(), ReadError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(input);
    let columns = header(&mut reader)?;
    let mut record = csv::ByteRecord::new();
    loop {
        let entry = match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let at = Location::Line(record.position().map_or(0, csv::Position::line));
                match user(&columns, &record) {
                    Ok(user) => Entry::User(at, user),
                    Err(reason) => Entry::Unreadable(at, reason),
                }
            }
            Err(error) => match error.kind() {
                csv::ErrorKind::UnequalLengths {
                    pos,
                    expected_len,
                    len,
                } => Entry::Unreadable(
                    Location::Line(pos.as_ref().map_or(0, csv::Position::line)),
                    format!("{len} fields where the header has {expected_len}"),
                ),
                _ => {
                    return Err(ReadError::Malformed(format!(
                        "the CSV cannot be read on: {error}"
                    )));
                }
            },
        };
        sender.send(entry)?;
    }
}

/// Which column each field of a record is, from the header.
fn header<R: Read>(reader: &mut csv::Reader<R>) -> Result<Vec<usize>, ReadError> {
    let names = reader
        .byte_headers()
        .map_err(|error| ReadError::Malformed(format!("the CSV header cannot be read: {error}")))?;
    let mut columns = Vec::with_capacity(names.len());
    for (index, name) in names.iter().enumerate() {
        let name = std::str::from_utf8(name)
            .map_err(|_| ReadError::Malformed("line 1: the header is not UTF-8".to_owned()))?;
        let name = if index == 0 {
            name.trim_start_matches('\u{feff}')
        } else {
            name
        };
        let Some(column) = COLUMNS.iter().position(|known| *known == name.trim()) else {
            return Err(ReadError::Malformed(format!(
                "line 1: unknown column {name:?}; the columns are {}",
                COLUMNS.join(", ")
            )));
        };
        if columns.contains(&column) {
            return Err(ReadError::Malformed(format!(
                "line 1: the column {name} is named twice"
            )));
        }
        columns.push(column);
    }
    if !columns.contains(&0) {
        return Err(ReadError::Malformed(
            "line 1: the header has no email column (a header row names the columns)".to_owned(),
        ));
    }
    Ok(columns)
}

fn user(columns: &[usize], record: &csv::ByteRecord) -> Result<ImportedUser, String> {
    let mut user = ImportedUser::default();
    for (field, column) in record.iter().zip(columns) {
        let name = COLUMNS[*column];
        let text = std::str::from_utf8(field)
            .map_err(|_| format!("{name}: not UTF-8; the file must be UTF-8"))?;
        if *column == 0 {
            user.email = text.to_owned();
        }
        let Some(text) = entries::given(text) else {
            continue;
        };
        match *column {
            1 => user.name = Some(text.to_owned()),
            2 => user.password = ImportedPassword::Hash(text.trim().to_owned()),
            3 => user.email_verified = Some(entries::boolean(name, text)?),
            4 => user.roles = Some(entries::roles(text)),
            5 => user.disabled = Some(entries::boolean(name, text)?),
            6 => user.created_at = Some(entries::time(name, text)?),
            _ => {}
        }
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(file: &str) -> Result<Vec<Entry>, String> {
        let (sender, mut receiver) = tokio::sync::mpsc::channel(64);
        let mut sender = Sender::new(sender);
        read(file.as_bytes(), &mut sender).map_err(|error| error.to_string())?;
        sender.flush().map_err(|error| error.to_string())?;
        drop(sender);
        let mut all = Vec::new();
        while let Ok(chunk) = receiver.try_recv() {
            all.extend(chunk);
        }
        Ok(all)
    }

    #[test]
    fn records_become_users_and_bad_ones_say_where() {
        let file = "email,roles,disabled,password_hash\n\
                    ada@x.io,reader editor,f,$2b$10$abc\n\
                    \"bob\n@x.io\",,,\n\
                    cat@x.io,reader\n\
                    dan@x.io,,maybe,\n";
        let read = entries(file).unwrap();
        assert_eq!(read.len(), 4);
        let Entry::User(Location::Line(2), ada) = &read[0] else {
            panic!("{:?}", read[0]);
        };
        assert_eq!(
            ada.roles.as_deref(),
            Some(&["reader".to_owned(), "editor".to_owned()][..])
        );
        assert_eq!(ada.disabled, Some(false));
        let Entry::User(Location::Line(3), bob) = &read[1] else {
            panic!("{:?}", read[1]);
        };
        assert_eq!(bob.email, "bob\n@x.io");
        assert!(bob.roles.is_none());
        assert!(
            matches!(&read[2], Entry::Unreadable(Location::Line(5), reason) if reason.contains("2 fields where the header has 4")),
            "{:?}",
            read[2]
        );
        assert!(
            matches!(&read[3], Entry::Unreadable(Location::Line(6), reason) if reason.contains("disabled"))
        );
    }

    #[test]
    fn a_header_must_name_known_columns_and_email() {
        for (file, reason) in [
            ("name,password_hash\nAda,x\n", "no email column"),
            (
                "email,pasword_hash\na@x.io,x\n",
                "unknown column \"pasword_hash\"",
            ),
            ("email,email\na@x.io,b@x.io\n", "named twice"),
        ] {
            match entries(file) {
                Err(got) => assert!(got.contains(reason), "{file}: {got}"),
                Ok(read) => panic!("{file}: read {read:?}"),
            }
        }
    }
}
