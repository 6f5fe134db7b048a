//! A synthetic project for benchmarks: `flows` flow files, each with a
//! segment, an email and an SMS template and a flow that uses every kind of
//! step, written the way a real project is (several files, shared events,
//! HTML-sized text parts). Deterministic: the same `flows` gives the same
//! text, so runs compare.

/// `nudge.toml` of the synthetic project.
pub const MANIFEST: &str = r#"[project]
name = "bench-shop"
timezone = "America/New_York"

[shop]
name = "Bench"
url = "https://bench.example"
address = "1 Main St, Springfield, IL 62701, USA"
from_email = "hello@bench.example"
from_name = "Bench"

[policy]
when_capped = "skip"
frequency.email = ["3 per 1d", "20 per 7d"]
frequency.sms = ["2 per 1d", "10 per 30d"]
quiet_hours.sms = "21:00 to 09:00"
"#;

/// Declarations shared by every flow file.
pub const SHARED: &str = r#"/// Events the bench shop adds beyond the stdlib.
event "Order Delivered" {
  order_id: string
  carrier: string?
}

event "Bench Reminded" {
  flow: string
}

profile {
  tier: "bronze" | "silver" | "gold"
  points: int
}
"#;

/// The source of flow file number `i` (0-based).
pub fn flow_file(i: usize) -> String {
    let threshold = 20 + (i % 50) * 10;
    let days = 30 + i % 300;
    format!(
        r#"// Synthetic flow file {i}.

segment spenders_{i} "Customers who spent more than {threshold} USD in {days} days" =
  sum("Order Completed".revenue, within: {days}d) >= {threshold} USD
    and count("Order Completed", within: 365d) >= 2

template email reminder_{i}(c: "Checkout Started") {{
  subject "{{{{ profile.first_name ?? "Hi" }}}}, your cart is waiting ({i})"
  preheader "Your cart is saved for 48 hours"
  html """
    <table width="100%" cellpadding="0" cellspacing="0">
      <tr><td><h1>Hello {{{{ profile.first_name ?? "there" }}}}</h1></td></tr>
      {{% for p in c.products %}}
      <tr><td>{{{{ p.name ?? "Item" }}}}</td><td>{{{{ p.price ?? 0 USD | money }}}}</td></tr>
      {{% endfor %}}
      <tr><td><a href="{{{{ c.checkout_url ?? shop.url }}}}">Finish your order</a></td></tr>
      <tr><td>{{{{ shop.address }}}} <a href="{{{{ unsubscribe_url }}}}">Unsubscribe</a></td></tr>
    </table>
  """
  text """
    You left {{{{ c.products | count }}}} items in your cart.
    {{% for p in c.products %}}- {{{{ p.name ?? "Item" }}}}
    {{% endfor %}}
    Finish your order: {{{{ c.checkout_url ?? shop.url }}}}
    {{{{ shop.address }}}}
    Unsubscribe: {{{{ unsubscribe_url }}}}
  """
}}

template sms nudge_{i}(c: "Checkout Started") {{
  body "{{{{ shop.name }}}}: your cart is waiting {{{{ c.checkout_url ?? shop.url | short_link }}}} Reply STOP to opt out"
}}

flow checkout_{i} {{
  description "Synthetic abandoned checkout {i}"
  category marketing
  priority {priority}
  when "Checkout Started" as checkout where checkout.value ?? 0 USD >= {threshold} USD
  reentry once per 7d
  exit when "Order Completed" where it.checkout_id == checkout.checkout_id
  goal "Order Completed" within 5d

  wait 1h
  send email reminder_{i}(checkout)
  wait 1d
  if profile in spenders_{i} {{
    send email reminder_{i}(checkout)
  }} else {{
    split test_{i} {{
      50% control {{ send email reminder_{i}(checkout) }}
      50% again {{ wait 4h  send email reminder_{i}(checkout) }}
    }}
  }}
  wait until 10:00 local
  match profile.tier {{
    "gold" => {{ set profile.points = profile.points + 10 }}
    _ => {{ track "Bench Reminded" {{ flow: "checkout_{i}" }} }}
  }}
  if profile.sms_consent {{
    send sms nudge_{i}(checkout)
  }}
}}
"#,
        priority = i % 10,
    )
}

/// Every file of the project as (relative path, text), manifest first.
pub fn project(flows: usize) -> Vec<(String, String)> {
    let mut files = vec![
        ("nudge.toml".to_string(), MANIFEST.to_string()),
        ("shared.flow".to_string(), SHARED.to_string()),
    ];
    for i in 0..flows {
        files.push((format!("flows/flow_{i:04}.flow"), flow_file(i)));
    }
    files
}
