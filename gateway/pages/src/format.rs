//! Numbers, money and times as people read them: in Persian with Persian digits, the Persian
//! thousands separator and Solar Hijri dates; in English with grouped Latin digits. And amounts
//! typed at a till, in either script.

use chrono::{DateTime, Datelike as _, Utc};
use chrono_tz::Tz;
use domain::points::{Currency, Money, Points};

use crate::words::Lang;

/// `text` with Latin digits, separators and the decimal point written the Persian way.
fn persian(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(0x06F0 + (c as u32 - '0' as u32)).unwrap_or(c),
            ',' => '٬',
            '.' => '٫',
            '-' => '−',
            other => other,
        })
        .collect()
}

fn localized(lang: Lang, latin: String) -> String {
    match lang {
        Lang::En => latin,
        Lang::Fa => persian(&latin),
    }
}

/// A number with grouped digits.
pub(crate) fn number(lang: Lang, value: i64) -> String {
    localized(lang, partners::amounts::group(value))
}

/// Points with their unit: `1,250 points`, `۱٬۲۵۰ امتیاز`.
pub(crate) fn points(lang: Lang, points: Points) -> String {
    let w = crate::words::words(lang);
    let unit = if points.get().unsigned_abs() == 1 {
        w.point_unit
    } else {
        w.points_unit
    };
    format!("{} {unit}", number(lang, points.get()))
}

/// Money with its currency's decimals: `1,500,000.00 IRR`, `۱٬۵۰۰٬۰۰۰ ریال`. Rials are shown
/// whole in Persian when the amount has no fraction, as a bill shows them.
pub(crate) fn money(lang: Lang, money: Money) -> String {
    let code = money.currency.as_str();
    match lang {
        Lang::En => partners::amounts::format_money(money.amount_minor, code),
        Lang::Fa => {
            let exponent = partners::amounts::exponent(code);
            let scale = 10_i64.checked_pow(exponent).unwrap_or(1);
            let text = if code == "IRR" && money.amount_minor % scale == 0 {
                format!(
                    "{} ریال",
                    partners::amounts::group(money.amount_minor / scale)
                )
            } else {
                partners::amounts::format_money(money.amount_minor, code)
            };
            persian(&text)
        }
    }
}

/// A date: Solar Hijri in Persian (`۱۴۰۵/۰۹/۱۱`), ISO in English.
pub(crate) fn date(lang: Lang, day: chrono::NaiveDate) -> String {
    match lang {
        Lang::En => day.to_string(),
        Lang::Fa => {
            let hijri = u8::try_from(day.month())
                .ok()
                .zip(u8::try_from(day.day()).ok())
                .and_then(|(m, d)| icu_calendar::Date::try_new_iso(day.year(), m, d).ok())
                .map(|iso| iso.to_calendar(icu_calendar::cal::Persian));
            persian(&match hijri {
                Some(h) => format!(
                    "{}/{:02}/{:02}",
                    h.era_year().year,
                    h.month().ordinal,
                    h.day_of_month().0
                ),
                None => day.to_string(),
            })
        }
    }
}

/// The local date and time: Solar Hijri in Persian (`۱۴۰۵/۰۹/۱۱ ۱۴:۰۵`), ISO in English.
pub(crate) fn date_time(lang: Lang, at: DateTime<Utc>, zone: Tz) -> String {
    let local = at.with_timezone(&zone);
    let time = localized(lang, local.format("%H:%M").to_string());
    format!("{} {time}", date(lang, local.date_naive()))
}

/// Digits as typed at a till, Persian, Arabic-Indic or Latin, with separators and spaces
/// removed; `None` when anything else is there.
fn typed_digits(text: &str) -> Option<String> {
    let mut digits = String::with_capacity(text.len());
    for c in text.trim().chars() {
        match c {
            '0'..='9' => digits.push(c),
            '۰'..='۹' => digits.push(char::from_u32(c as u32 - 0x06F0 + '0' as u32)?),
            '٠'..='٩' => digits.push(char::from_u32(c as u32 - 0x0660 + '0' as u32)?),
            ',' | '٬' | '،' | ' ' | '\u{200c}' => {}
            _ => return None,
        }
    }
    (!digits.is_empty()).then_some(digits)
}

/// A whole amount of the currency's major unit as typed (`1,500,000`, `۱٬۵۰۰٬۰۰۰`), in minor
/// units; `None` unless it is a positive whole number that fits.
pub(crate) fn typed_amount(text: &str, currency: Currency) -> Option<i64> {
    let major: i64 = typed_digits(text)?.parse().ok()?;
    let scale = 10_i64.checked_pow(partners::amounts::exponent(currency.as_str()))?;
    major.checked_mul(scale).filter(|minor| *minor > 0)
}

/// A positive number of points as typed.
pub(crate) fn typed_points(text: &str) -> Option<Points> {
    let points: i64 = typed_digits(text)?.parse().ok()?;
    (points > 0).then_some(Points(points))
}

/// A date from a form's date field (`YYYY-MM-DD`): `Ok(None)` when left empty, `Err` when it is
/// not a date.
pub(crate) fn typed_date(text: &str) -> Result<Option<chrono::NaiveDate>, ()> {
    match text.trim() {
        "" => Ok(None),
        text => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| ()),
    }
}

/// A phone number as typed: Persian or Arabic-Indic digits read as Latin ones, the rest (a
/// leading `+`, spaces, dashes) left for the domain's parser.
pub(crate) fn typed_phone(text: &str) -> String {
    text.trim()
        .chars()
        .map(|c| match c {
            '۰'..='۹' => char::from_u32(c as u32 - 0x06F0 + '0' as u32).unwrap_or(c),
            '٠'..='٩' => char::from_u32(c as u32 - 0x0660 + '0' as u32).unwrap_or(c),
            other => other,
        })
        .collect()
}

/// A card number as typed or scanned: its digits, in whatever script, spaces and dashes gone.
pub(crate) fn typed_card(text: &str) -> String {
    let without_dashes: String = text.chars().filter(|c| *c != '-').collect();
    typed_digits(&without_dashes).unwrap_or_else(|| text.trim().to_owned())
}

/// A card number as a till shows it: only its last four digits.
pub(crate) fn masked_card(number: &str) -> String {
    let tail: String = number
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("•••• {tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn irr() -> Currency {
        Currency::parse("IRR").unwrap()
    }

    #[test]
    fn amounts_read_the_way_people_write_them() {
        let rials = Money::new(150_000_000, irr());
        assert_eq!(money(Lang::En, rials), "1,500,000.00 IRR");
        assert_eq!(money(Lang::Fa, rials), "۱٬۵۰۰٬۰۰۰ ریال");
        assert_eq!(money(Lang::Fa, Money::new(150, irr())), "۱٫۵۰ IRR");
        assert_eq!(points(Lang::Fa, Points(1250)), "۱٬۲۵۰ امتیاز");
        assert_eq!(points(Lang::En, Points(1)), "1 point");
        assert_eq!(number(Lang::Fa, -42), "−۴۲");
    }

    #[test]
    fn a_till_takes_amounts_in_any_script() {
        assert_eq!(typed_amount("1,500,000", irr()), Some(150_000_000));
        assert_eq!(typed_amount("۱٬۵۰۰٬۰۰۰", irr()), Some(150_000_000));
        assert_eq!(typed_amount("١٥٠٠", irr()), Some(150_000));
        assert_eq!(typed_amount("0", irr()), None);
        assert_eq!(typed_amount("12.5", irr()), None);
        assert_eq!(typed_amount("99999999999999999999", irr()), None);
        assert_eq!(typed_points("۲۰۰"), Some(Points(200)));
        assert_eq!(typed_points("-5"), None);
        assert_eq!(typed_card("۶۰۳۷ ۰۰۰۰-۱۰۰۰ ۰۰۰۲"), "6037000010000002");
        assert_eq!(masked_card("6037000010000002"), "•••• 0002");
    }

    #[test]
    fn dates_are_solar_hijri_in_persian() {
        let at = DateTime::parse_from_rfc3339("2026-12-02T10:35:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let zone: Tz = "Asia/Tehran".parse().unwrap();
        assert_eq!(date_time(Lang::En, at, zone), "2026-12-02 14:05");
        assert_eq!(date_time(Lang::Fa, at, zone), "۱۴۰۵/۰۹/۱۱ ۱۴:۰۵");
    }
}
