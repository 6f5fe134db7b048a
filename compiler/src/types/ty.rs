//! The types of Nudge values as the checker sees them, how they print in
//! messages, and which types a value of one type may be used as.

use std::fmt;

/// A value's type. `Error` stands for "already reported": it fits
/// everywhere and never causes a further diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ty {
    Bool,
    Int,
    Decimal,
    String,
    /// Money with its currency when the compiler knows it (`20 USD`), `None`
    /// when it is only known at run time (an event's `revenue: money`).
    Money(Option<String>),
    Currency,
    Percent,
    Timestamp,
    Date,
    Duration,
    Time,
    Timezone,
    Email,
    Phone,
    Url,
    List(Box<Ty>),
    Optional(Box<Ty>),
    /// `"bronze" | "silver" | "gold"`, literals in declaration order.
    Union(Vec<String>),
    /// A declared record type (`Product`), by name.
    Record(String),
    /// The properties of an event (`"Checkout Started"`), by wire name.
    Event(String),
    /// A record literal `{ a: 1, b: "x" }` before it meets its expected type.
    Literal(Vec<(String, Ty)>),
    /// The customer (`profile`): its fields are the declared traits.
    Profile,
    /// The shop settings from `nudge.toml` (`shop`).
    Shop,
    /// The `none` literal: fits every optional type.
    None,
    Error,
}

impl Ty {
    pub fn optional(inner: Ty) -> Ty {
        match inner {
            // `T??` is `T?`; `none` and errors stay as they are.
            Ty::Optional(_) | Ty::None | Ty::Error => inner,
            other => Ty::Optional(Box::new(other)),
        }
    }

    pub fn list(inner: Ty) -> Ty {
        Ty::List(Box::new(inner))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Ty::Error)
    }

    pub fn is_optional(&self) -> bool {
        matches!(self, Ty::Optional(_) | Ty::None)
    }

    /// The present type of an optional (`T` for `T?`), else itself.
    pub fn unwrap_optional(&self) -> &Ty {
        match self {
            Ty::Optional(inner) => inner,
            other => other,
        }
    }

    /// Text-like: strings and the types carried as strings.
    pub fn is_text(&self) -> bool {
        matches!(
            self,
            Ty::String
                | Ty::Email
                | Ty::Phone
                | Ty::Url
                | Ty::Timezone
                | Ty::Currency
                | Ty::Union(_)
        )
    }

    pub fn is_number(&self) -> bool {
        matches!(self, Ty::Int | Ty::Decimal)
    }

    /// Values a `sum` can add up.
    pub fn is_summable(&self) -> bool {
        matches!(
            self,
            Ty::Int | Ty::Decimal | Ty::Money(_) | Ty::Percent | Ty::Duration
        )
    }

    /// Values that can be ordered with `<`.
    pub fn is_ordered(&self) -> bool {
        matches!(
            self,
            Ty::Int
                | Ty::Decimal
                | Ty::Money(_)
                | Ty::Percent
                | Ty::Duration
                | Ty::Timestamp
                | Ty::Date
                | Ty::Time
        ) || self.is_text()
    }

    /// Values a `{{ hole }}` can print.
    pub fn is_printable(&self) -> bool {
        matches!(
            self,
            Ty::Bool
                | Ty::Int
                | Ty::Decimal
                | Ty::Money(_)
                | Ty::Percent
                | Ty::Timestamp
                | Ty::Date
                | Ty::Duration
                | Ty::Time
                | Ty::Error
        ) || self.is_text()
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Bool => f.write_str("bool"),
            Ty::Int => f.write_str("int"),
            Ty::Decimal => f.write_str("decimal"),
            Ty::String => f.write_str("string"),
            Ty::Money(None) => f.write_str("money"),
            Ty::Money(Some(c)) => write!(f, "money ({c})"),
            Ty::Currency => f.write_str("currency"),
            Ty::Percent => f.write_str("percent"),
            Ty::Timestamp => f.write_str("timestamp"),
            Ty::Date => f.write_str("date"),
            Ty::Duration => f.write_str("duration"),
            Ty::Time => f.write_str("time"),
            Ty::Timezone => f.write_str("timezone"),
            Ty::Email => f.write_str("email"),
            Ty::Phone => f.write_str("phone"),
            Ty::Url => f.write_str("url"),
            Ty::List(inner) => write!(f, "list<{inner}>"),
            Ty::Optional(inner) => match **inner {
                Ty::Union(_) => write!(f, "({inner})?"),
                _ => write!(f, "{inner}?"),
            },
            Ty::Union(items) => {
                for (i, s) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    write!(f, "{s:?}")?;
                }
                Ok(())
            }
            Ty::Record(name) => f.write_str(name),
            Ty::Event(name) => write!(f, "{name:?}"),
            Ty::Literal(fields) => {
                f.write_str("{ ")?;
                for (i, (n, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{n}: {t}")?;
                }
                f.write_str(" }")
            }
            Ty::Profile => f.write_str("profile"),
            Ty::Shop => f.write_str("shop"),
            Ty::None => f.write_str("none"),
            Ty::Error => f.write_str("{unknown}"),
        }
    }
}

/// Why a value does not fit where it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misfit {
    /// An optional value where a present one is needed (E0203).
    Optional,
    /// Money of one currency where another is needed (E0204): (found, expected).
    Currency(String, String),
    /// Anything else (E0201).
    Type,
}

/// Whether a value of type `from` may be used where `to` is expected.
/// Record literals are checked field by field by the caller; here a
/// literal fits any record or event type.
pub fn fits(from: &Ty, to: &Ty) -> Result<(), Misfit> {
    use Ty as T;
    match (from, to) {
        (T::Error, _) | (_, T::Error) => Ok(()),
        (T::None, T::Optional(_)) => Ok(()),
        (T::Optional(a), T::Optional(b)) => fits(a, b),
        (T::Optional(a), b) => match fits(a, b) {
            Ok(()) => Err(Misfit::Optional),
            Err(e) => Err(e),
        },
        (a, T::Optional(b)) => fits(a, b),
        (T::Money(Some(a)), T::Money(Some(b))) if a != b => {
            Err(Misfit::Currency(a.clone(), b.clone()))
        }
        (T::Money(_), T::Money(_)) => Ok(()),
        (T::Int, T::Decimal) => Ok(()),
        (T::Union(a), T::Union(b)) => {
            if a.iter().all(|s| b.contains(s)) {
                Ok(())
            } else {
                Err(Misfit::Type)
            }
        }
        // Text-like values are strings at run time; a plain string may be
        // used where an email, phone, url, timezone or currency is expected
        // (its format is the sender's business), but never where a union is.
        (a, T::String) if a.is_text() => Ok(()),
        (T::String, T::Email | T::Phone | T::Url | T::Timezone | T::Currency) => Ok(()),
        (T::List(a), T::List(b)) => fits(a, b),
        (T::Literal(_), T::Record(_) | T::Event(_)) => Ok(()),
        (a, b) if a == b => Ok(()),
        _ => Err(Misfit::Type),
    }
}

/// The type of a value that may be either `a` or `b` (list elements,
/// `a ?? b`); `None` when they have nothing in common.
pub fn join(a: &Ty, b: &Ty) -> Option<Ty> {
    use Ty as T;
    match (a, b) {
        (T::Error, _) | (_, T::Error) => Some(T::Error),
        (T::None, other) | (other, T::None) => Some(Ty::optional(other.clone())),
        (T::Optional(x), y) | (y, T::Optional(x)) => join(x, y).map(Ty::optional),
        (T::Money(x), T::Money(y)) => match (x, y) {
            (Some(x), Some(y)) if x != y => None,
            (Some(c), _) | (_, Some(c)) => Some(T::Money(Some(c.clone()))),
            _ => Some(T::Money(None)),
        },
        (T::Int, T::Decimal) | (T::Decimal, T::Int) => Some(T::Decimal),
        (T::Union(x), T::Union(y)) => {
            let mut all = x.clone();
            for s in y {
                if !all.contains(s) {
                    all.push(s.clone());
                }
            }
            Some(T::Union(all))
        }
        (T::List(x), T::List(y)) => join(x, y).map(Ty::list),
        (x, y) if x == y => Some(x.clone()),
        (x, y) if x.is_text() && y.is_text() => Some(T::String),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Ty {
        Ty::Money(Some("USD".into()))
    }

    #[test]
    fn optional_values_need_a_default() {
        assert_eq!(
            fits(&Ty::optional(Ty::String), &Ty::String),
            Err(Misfit::Optional)
        );
        assert_eq!(fits(&Ty::String, &Ty::optional(Ty::String)), Ok(()));
        assert_eq!(fits(&Ty::None, &Ty::optional(Ty::Int)), Ok(()));
        assert_eq!(fits(&Ty::None, &Ty::Int), Err(Misfit::Type));
    }

    #[test]
    fn money_of_unknown_currency_fits_any() {
        assert_eq!(fits(&Ty::Money(None), &usd()), Ok(()));
        assert_eq!(
            fits(&Ty::Money(Some("EUR".into())), &usd()),
            Err(Misfit::Currency("EUR".into(), "USD".into()))
        );
        assert_eq!(join(&usd(), &Ty::Money(None)), Some(usd()));
        assert_eq!(join(&usd(), &Ty::Money(Some("EUR".into()))), None);
    }

    #[test]
    fn unions_and_text() {
        let tier = Ty::Union(vec!["gold".into(), "silver".into()]);
        assert_eq!(fits(&tier, &Ty::String), Ok(()));
        assert_eq!(fits(&Ty::String, &tier), Err(Misfit::Type));
        assert_eq!(fits(&Ty::Url, &Ty::String), Ok(()));
        assert_eq!(fits(&Ty::String, &Ty::Url), Ok(()));
        assert_eq!(tier.to_string(), "\"gold\" | \"silver\"");
        assert_eq!(Ty::optional(tier).to_string(), "(\"gold\" | \"silver\")?");
    }

    #[test]
    fn error_fits_everywhere() {
        assert_eq!(fits(&Ty::Error, &Ty::Int), Ok(()));
        assert_eq!(fits(&Ty::Int, &Ty::Error), Ok(()));
    }
}
