//! A deterministic generator of Segment `/v1/batch`-element JSONL logs for
//! `examples/shop`: N events over P profiles, in timestamp order, mixing
//! identify, browsing, carts, checkouts, orders and their shipping in
//! roughly the proportions a small shop sees. Same (N, P) → same bytes:
//! the only randomness is a xorshift seeded by a fixed constant.
//!
//! Each profile walks a small funnel (browse → cart → checkout → order →
//! fulfilled → delivered → browse again); a profile's first event is its
//! `identify` with traits, then `Signed Up`. The fields are those the shop's
//! flows and templates read (see `examples/shop/events.jsonl` for the shapes).

use std::fmt::Write;

/// xorshift64*: small, fast, good enough to mix a workload.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Clone, Copy)]
enum Stage {
    New,
    Identified,
    Browsing,
    Cart,
    Checkout,
    Ordered,
    Shipped,
}

struct Product {
    id: &'static str,
    sku: &'static str,
    name: &'static str,
    category: &'static str,
    price: u32,
}

const PRODUCTS: [Product; 6] = [
    Product {
        id: "p-101",
        sku: "SWB-42",
        name: "Switchback trail runners",
        category: "Footwear",
        price: 129,
    },
    Product {
        id: "p-202",
        sku: "RDG-40",
        name: "Ridgeline 40L pack",
        category: "Packs",
        price: 189,
    },
    Product {
        id: "p-303",
        sku: "SUM-2P",
        name: "Summit 2P tent",
        category: "Camping",
        price: 349,
    },
    Product {
        id: "p-404",
        sku: "NMB-DN",
        name: "Nimbus down jacket",
        category: "Apparel",
        price: 219,
    },
    Product {
        id: "p-505",
        sku: "CRB-PL",
        name: "Carbon trekking poles",
        category: "Accessories",
        price: 89,
    },
    Product {
        id: "p-606",
        sku: "MRN-SK",
        name: "Merino hiking socks",
        category: "Apparel",
        price: 19,
    },
];

const FIRST_NAMES: [&str; 8] = ["Maya", "Sam", "Lee", "Ana", "Kofi", "Ines", "Tom", "Yuki"];
const ZONES: [&str; 4] = [
    "America/Los_Angeles",
    "America/New_York",
    "Europe/Berlin",
    "UTC",
];

/// 2026-03-01T00:00:00Z.
const START_SECS: i64 = 1_772_323_200;

/// The log: `events` lines over `profiles` profiles, in time order.
pub fn generate(events: usize, profiles: usize) -> String {
    let profiles = profiles.max(1);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut stage = vec![Stage::New; profiles];
    // Each profile's product of interest and open order.
    let mut product = vec![0u8; profiles];
    let mut order = vec![0u64; profiles];
    let mut next_order = 1000u64;
    let mut out = String::with_capacity(events * 420);
    let mut t = START_SECS;
    for n in 0..events {
        // Time moves on 0–9 s per event: 1M events span about two months,
        // so short waits fire in the run and long ones are still pending.
        t += i64::try_from(rng.below(10)).unwrap_or(0);
        let u = usize::try_from(rng.below(profiles as u64)).unwrap_or(0);
        let ts = stamp(t);
        let msg = n + 1;
        let p = &PRODUCTS[usize::from(product[u]) % PRODUCTS.len()];
        let roll = rng.below(100);
        let (next, line) = match stage[u] {
            Stage::New => {
                let first = FIRST_NAMES[u % FIRST_NAMES.len()];
                let zone = ZONES[u % ZONES.len()];
                let month = 1 + u % 12;
                let day = 1 + u % 28;
                let line = format!(
                    r#"{{"type":"identify","userId":"u{u}","timestamp":"{ts}","messageId":"m{msg}","traits":{{"email":"user{u}@example.com","first_name":"{first}","timezone":"{zone}","birthday":"1990-{month:02}-{day:02}","email_consent":true,"sms_consent":{sms},"created_at":"{ts}"}}}}"#,
                    sms = u.is_multiple_of(3)
                );
                (Stage::Identified, line)
            }
            Stage::Identified => (
                Stage::Browsing,
                track(
                    &ts,
                    u,
                    msg,
                    "Signed Up",
                    &format!(r#"{{"type":"organic","email":"user{u}@example.com"}}"#),
                ),
            ),
            Stage::Browsing if roll < 55 => {
                product[u] = u8::try_from(rng.below(PRODUCTS.len() as u64)).unwrap_or(0);
                let p = &PRODUCTS[usize::from(product[u])];
                (
                    Stage::Browsing,
                    track(&ts, u, msg, "Product Viewed", &product_props(p, "")),
                )
            }
            Stage::Browsing if roll < 65 => (
                Stage::Browsing,
                track(
                    &ts,
                    u,
                    msg,
                    "Products Searched",
                    r#"{"query":"rain jacket"}"#,
                ),
            ),
            Stage::Browsing if roll < 68 => {
                // Traits change now and then (an address, a consent).
                let line = format!(
                    r#"{{"type":"identify","userId":"u{u}","timestamp":"{ts}","messageId":"m{msg}","traits":{{"sms_consent":{sms}}}}}"#,
                    sms = roll.is_multiple_of(2)
                );
                (Stage::Browsing, line)
            }
            Stage::Browsing => (
                Stage::Cart,
                track(
                    &ts,
                    u,
                    msg,
                    "Product Added",
                    &product_props(p, &format!(r#""cart_id":"cart-u{u}","quantity":1,"#)),
                ),
            ),
            Stage::Cart if roll < 55 => {
                let line = track(
                    &ts,
                    u,
                    msg,
                    "Checkout Started",
                    &format!(
                        r#"{{"checkout_id":"chk-u{u}-{msg}","value":{v}.0,"currency":"USD","products":[{item}],"checkout_url":"https://trailhead.example/checkouts/chk-u{u}-{msg}?recover=1"}}"#,
                        v = p.price,
                        item = product_props(p, r#""quantity":1,"#)
                    ),
                );
                (Stage::Checkout, line)
            }
            Stage::Cart => (
                Stage::Browsing,
                track(&ts, u, msg, "Product Viewed", &product_props(p, "")),
            ),
            Stage::Checkout if roll < 60 => {
                next_order += 1;
                order[u] = next_order;
                let line = track(
                    &ts,
                    u,
                    msg,
                    "Order Completed",
                    &format!(
                        r#"{{"order_id":"{o}","subtotal":{v}.0,"total":{v}.0,"revenue":{v}.0,"tax":0,"currency":"USD","products":[{item}]}}"#,
                        o = next_order,
                        v = p.price,
                        item = product_props(p, r#""quantity":1,"#)
                    ),
                );
                (Stage::Ordered, line)
            }
            // Abandoned: back to browsing (the reminder flow picks it up).
            Stage::Checkout => (
                Stage::Browsing,
                track(&ts, u, msg, "Product Viewed", &product_props(p, "")),
            ),
            Stage::Ordered => (
                Stage::Shipped,
                track(
                    &ts,
                    u,
                    msg,
                    "Order Fulfilled",
                    &format!(
                        r#"{{"order_id":"{o}","carrier":"UPS","tracking_number":"1Z{o}","tracking_url":"https://www.ups.com/track?tracknum=1Z{o}"}}"#,
                        o = order[u]
                    ),
                ),
            ),
            Stage::Shipped => (
                Stage::Browsing,
                track(
                    &ts,
                    u,
                    msg,
                    "Order Delivered",
                    &format!(r#"{{"order_id":"{o}"}}"#, o = order[u]),
                ),
            ),
        };
        stage[u] = next;
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn track(ts: &str, u: usize, msg: usize, event: &str, props: &str) -> String {
    format!(
        r#"{{"type":"track","userId":"u{u}","timestamp":"{ts}","messageId":"m{msg}","event":"{event}","properties":{props}}}"#
    )
}

/// A product's properties as a JSON object; `extra` is inserted first
/// (each entry ending in a comma).
fn product_props(p: &Product, extra: &str) -> String {
    format!(
        r#"{{{extra}"product_id":"{id}","sku":"{sku}","name":"{name}","category":"{cat}","brand":"Trailhead","price":{price}.0,"url":"https://trailhead.example/products/{id}","image_url":"https://cdn.trailhead.example/img/{id}.jpg","currency":"USD"}}"#,
        id = p.id,
        sku = p.sku,
        name = p.name,
        cat = p.category,
        price = p.price
    )
}

/// Unix seconds → RFC 3339 UTC (`2026-03-01T09:00:05Z`).
fn stamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    let mut s = String::with_capacity(20);
    let _ = write!(
        s,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    s
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}
