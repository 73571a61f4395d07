//! Free text that partners, members and operators give us, checked once at the edge so that what
//! is stored can be shown on a till, a statement or a phone as it is.
//!
//! Refused anywhere: control characters (C0 such as NUL, BEL and ESC; DEL; C1), which PostgreSQL
//! refuses (NUL) or which a terminal or a page would act on, and the bidirectional embedding,
//! override and isolate controls, which reorder what a reader sees ("Trojan source"). Persian text
//! needs the zero-width non-joiner and the right-to-left mark, so other format characters stay.

/// Why a text was refused; the field it names is in the refusal's detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Empty or longer than allowed.
    #[error("{field} must be 1 to {max} characters")]
    Length {
        /// The field.
        field: String,
        /// Its longest value.
        max: usize,
    },
    /// Holds a control or bidirectional-override character.
    #[error("{field} holds a control character (U+{code_point:04X}); send plain text")]
    Control {
        /// The field.
        field: String,
        /// The first character refused.
        code_point: u32,
    },
    /// A name with no letter in it.
    #[error("{field} must contain a letter")]
    NoLetter {
        /// The field.
        field: String,
    },
}

/// Whether `c` may not appear in stored text.
fn is_refused(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `value` is 1 to `max` characters of plain text, without copying it.
pub fn check(field: &str, value: &str, max: usize) -> Result<(), TextError> {
    if let Some(c) = value.chars().find(|c| is_refused(*c)) {
        return Err(TextError::Control {
            field: field.to_owned(),
            code_point: u32::from(c),
        });
    }
    if (1..=max).contains(&value.chars().count()) {
        Ok(())
    } else {
        Err(TextError::Length {
            field: field.to_owned(),
            max,
        })
    }
}

/// `value` as given (a partner's reference is matched byte for byte later), if it is 1 to `max`
/// characters of plain text.
pub fn exact(field: &str, value: String, max: usize) -> Result<String, TextError> {
    check(field, &value, max)?;
    Ok(value)
}

/// `value` without surrounding white space, if that is 1 to `max` characters of plain text.
pub fn trimmed(field: &str, value: &str, max: usize) -> Result<String, TextError> {
    exact(field, value.trim().to_owned(), max)
}

/// A name people read (a member's, a partner's): trimmed plain text with at least one letter, so
/// that a name made only of marks or digits cannot pass for one.
pub fn name(field: &str, value: &str, max: usize) -> Result<String, TextError> {
    let name = trimmed(field, value, max)?;
    if name.chars().any(char::is_alphabetic) {
        Ok(name)
    } else {
        Err(TextError::NoLetter {
            field: field.to_owned(),
        })
    }
}

/// The variant of `T` named `text`; the refusal names `what` was asked for and lists the names.
pub fn one_of<T>(text: &str, what: &str) -> Result<T, String>
where
    T: std::str::FromStr + strum::IntoEnumIterator + Into<&'static str>,
{
    text.parse().map_err(|_| {
        let names: Vec<&'static str> = T::iter().map(Into::into).collect();
        format!("{text:?} is not {what}; one of {}", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_override_characters_are_refused_wherever_they_are() {
        for bad in [
            "a\0b",
            "bell\u{7}",
            "\u{1b}[31mred",
            "del\u{7f}",
            "c1\u{85}",
            "x\u{202E}y",
        ] {
            assert!(
                matches!(
                    exact("reference", bad.into(), 100),
                    Err(TextError::Control { .. })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            exact("reference", "a\0b".into(), 100)
                .unwrap_err()
                .to_string(),
            "reference holds a control character (U+0000); send plain text"
        );
    }

    #[test]
    fn persian_text_with_its_joiners_and_marks_is_kept() {
        let name_with_zwnj = "نیک\u{200C}نام";
        assert_eq!(name("name", name_with_zwnj, 100).unwrap(), name_with_zwnj);
        assert_eq!(
            exact("reference", "فاکتور-۱۲\u{200F}".into(), 100).unwrap(),
            "فاکتور-۱۲\u{200F}"
        );
    }

    #[test]
    fn lengths_count_characters_and_names_need_a_letter() {
        assert!(exact("reference", "ب".repeat(100), 100).is_ok());
        assert!(matches!(
            exact("reference", "ب".repeat(101), 100),
            Err(TextError::Length { .. })
        ));
        assert!(matches!(
            exact("reference", String::new(), 100),
            Err(TextError::Length { .. })
        ));
        assert_eq!(trimmed("note", "  ok \n", 10).unwrap(), "ok");
        assert!(matches!(
            name("name", "\u{200F}\u{200F}", 100),
            Err(TextError::NoLetter { .. })
        ));
        assert!(matches!(
            name("name", "12345", 100),
            Err(TextError::NoLetter { .. })
        ));
        assert!(matches!(
            name("name", "   ", 100),
            Err(TextError::Length { .. })
        ));
    }
}
