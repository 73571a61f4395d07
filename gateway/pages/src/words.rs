//! What the pages say, in Persian and English. Every phrase is a field of [`Words`], so a page
//! cannot use a phrase one language lacks: the compiler checks both. Refusals from the domain
//! are shown by their stable code ([`refusal`]), in Persian where a translation is written, the
//! domain's English text otherwise.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::web::Path;
use actix_web::{HttpRequest, HttpResponse, get};

/// A language of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    /// Persian, right to left (the default: the first users are Iranian).
    Fa,
    /// English.
    En,
}

/// The cookie that keeps the language chosen.
const LANG_COOKIE: &str = "clubgate-lang";

/// The language of a request: the one chosen, else English when the browser asks for it before
/// Persian, else Persian.
pub(crate) fn lang_of(req: &HttpRequest) -> Lang {
    match req.cookie(LANG_COOKIE).as_ref().map(Cookie::value) {
        Some("en") => return Lang::En,
        Some("fa") => return Lang::Fa,
        _ => {}
    }
    let accepted = req
        .headers()
        .get(actix_web::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let first = accepted
        .split(',')
        .map(|tag| tag.trim().to_ascii_lowercase())
        .find(|tag| tag.starts_with("fa") || tag.starts_with("en"));
    match first {
        Some(tag) if tag.starts_with("en") => Lang::En,
        _ => Lang::Fa,
    }
}

/// The phrases of a request's language.
pub(crate) fn of(req: &HttpRequest) -> &'static Words {
    words(lang_of(req))
}

/// The phrases of `lang`.
pub(crate) fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Fa => &FA,
        Lang::En => &EN,
    }
}

/// Chooses the pages' language and goes back to the page it was chosen on: the path of the
/// (same-origin) `Referer`, so the link cannot send anyone to another site.
#[get("/lang/{lang}")]
pub(crate) async fn choose(req: HttpRequest, lang: Path<String>) -> HttpResponse {
    let lang = if lang.as_str() == "en" { "en" } else { "fa" };
    let next = req
        .headers()
        .get(actix_web::http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|referer| referer.parse::<actix_web::http::Uri>().ok())
        .filter(|uri| uri.host() == req.connection_info().host().split(':').next())
        .map_or_else(|| "/".to_owned(), |uri| uri.path().to_owned());
    let cookie = Cookie::build(LANG_COOKIE, lang)
        .path("/")
        .same_site(SameSite::Lax)
        .http_only(true)
        .permanent()
        .finish();
    HttpResponse::SeeOther()
        .insert_header(("location", next))
        .cookie(cookie)
        .finish()
}

/// Every phrase the pages use, in one language.
#[derive(Debug)]
pub(crate) struct Words {
    pub lang: Lang,
    /// `fa` or `en`.
    pub code: &'static str,
    /// `rtl` or `ltr`.
    pub dir: &'static str,
    pub other_code: &'static str,
    pub other_name: &'static str,
    pub club: &'static str,
    pub home_intro: &'static str,
    pub pos_title: &'static str,
    pub pos_hint: &'static str,
    pub sign_in: &'static str,
    pub sign_out: &'static str,
    pub login: &'static str,
    pub password: &'static str,
    pub sign_in_hint: &'static str,
    pub sign_in_invalid: &'static str,
    pub sign_in_locked: &'static str,
    pub error_title: &'static str,
    pub not_found: &'static str,
    pub forbidden: &'static str,
    pub session_ended: &'static str,
    pub csrf_refused: &'static str,
    pub unavailable: &'static str,
    pub bad_form: &'static str,
    pub internal: &'static str,
    pub back_home: &'static str,
    pub branch: &'static str,
    pub change_branch: &'static str,
    pub card_number: &'static str,
    pub check_card: &'static str,
    pub next_customer: &'static str,
    pub tier: &'static str,
    pub no_tier: &'static str,
    pub member_title: &'static str,
    pub member_sign_in: &'static str,
    pub member_sign_in_hint: &'static str,
    pub send_code: &'static str,
    pub code_sent_to: &'static str,
    pub sign_in_code: &'static str,
    pub verify: &'static str,
    pub other_phone: &'static str,
    pub your_card: &'static str,
    pub show_at_till: &'static str,
    pub invite_friends: &'static str,
    pub invite_hint: &'static str,
    pub consent_label: &'static str,
    pub save: &'static str,
    pub your_data: &'static str,
    pub download_data: &'static str,
    pub history: &'static str,
    pub nothing_yet: &'static str,
    pub place: &'static str,
    pub kind_expiry: &'static str,
    pub messages_title: &'static str,
    pub written: &'static str,
    pub sent: &'static str,
    pub to: &'static str,
    pub text: &'static str,
    pub member_portal_hint: &'static str,
    pub enrol: &'static str,
    pub enrolled: &'static str,
    pub full_name: &'static str,
    pub phone: &'static str,
    pub email: &'static str,
    pub birth_date: &'static str,
    pub city: &'static str,
    pub invite_code: &'static str,
    pub photo: &'static str,
    pub consent_messages: &'static str,
    pub bonus: &'static str,
    pub progress_to: &'static str,
    pub available: &'static str,
    pub held: &'static str,
    pub pending: &'static str,
    pub redeemable_here: &'static str,
    pub offers_today: &'static str,
    pub purchase_amount: &'static str,
    pub bill_reference: &'static str,
    pub optional: &'static str,
    pub earn: &'static str,
    pub points_to_redeem: &'static str,
    pub redeem: &'static str,
    pub reverse: &'static str,
    pub receipt: &'static str,
    pub replayed: &'static str,
    pub points_earned: &'static str,
    pub points_redeemed: &'static str,
    pub discount: &'static str,
    pub purchase: &'static str,
    pub transaction: &'static str,
    pub at: &'static str,
    pub cashier: &'static str,
    pub card: &'static str,
    pub back_to_till: &'static str,
    pub today: &'static str,
    pub today_title: &'static str,
    pub nothing_today: &'static str,
    pub time: &'static str,
    pub kind: &'static str,
    pub points: &'static str,
    pub amount: &'static str,
    pub state: &'static str,
    pub kind_earn: &'static str,
    pub kind_redeem: &'static str,
    pub kind_reversal: &'static str,
    pub kind_bonus: &'static str,
    pub kind_other: &'static str,
    pub state_posted: &'static str,
    pub state_pending: &'static str,
    pub state_voided: &'static str,
    pub points_unit: &'static str,
    pub point_unit: &'static str,
    pub amount_invalid: &'static str,
    pub points_invalid: &'static str,
}

pub(crate) const FA: Words = Words {
    lang: Lang::Fa,
    code: "fa",
    dir: "rtl",
    other_code: "en",
    other_name: "English",
    club: "باشگاه مشتریان",
    home_intro: "باشگاه مشتریان مشترک شرکای ما: با یک کارت، امتیاز بگیرید و در همه جا خرج کنید.",
    pos_title: "صندوق",
    pos_hint: "برای صندوق‌دار: بررسی کارت، ثبت خرید، کسر امتیاز، برگشت.",
    sign_in: "ورود",
    sign_out: "خروج",
    login: "نام کاربری",
    password: "گذرواژه",
    sign_in_hint: "با حساب کارکنان خود وارد شوید.",
    sign_in_invalid: "نام کاربری یا گذرواژه درست نیست.",
    sign_in_locked: "ورودهای ناموفق بسیار بوده است؛ چند دقیقهٔ دیگر دوباره تلاش کنید.",
    error_title: "خطا",
    not_found: "این صفحه یا تراکنش پیدا نشد.",
    forbidden: "دسترسی شما به این صفحه یا این شعبه نیست.",
    session_ended: "نشست شما پایان یافته است؛ دوباره وارد شوید.",
    csrf_refused: "این فرم از این صفحه فرستاده نشده یا کهنه است؛ صفحه را دوباره باز کنید.",
    unavailable: "سرویس لحظه‌ای در دسترس نیست؛ چند ثانیهٔ دیگر دوباره تلاش کنید. چیزی ثبت نشده است.",
    bad_form: "فرم کامل یا درست نیست.",
    internal: "خطای پیش‌بینی‌نشده‌ای رخ داد؛ چیزی ثبت نشده است.",
    back_home: "بازگشت",
    branch: "شعبه",
    change_branch: "تغییر شعبه",
    card_number: "شمارهٔ کارت",
    check_card: "بررسی کارت",
    next_customer: "مشتری بعدی",
    tier: "سطح",
    no_tier: "بدون سطح",
    member_title: "باشگاه من",
    member_sign_in: "ورود اعضا",
    member_sign_in_hint: "شمارهٔ همراهی را که با آن عضو شده‌اید بنویسید؛ یک کد برایتان پیامک می‌شود.",
    send_code: "فرستادن کد",
    code_sent_to: "اگر این شماره عضو باشگاه باشد، کدی به آن فرستاده شد:",
    sign_in_code: "کد",
    verify: "ورود",
    other_phone: "شمارهٔ دیگر",
    your_card: "کارت باشگاه شما",
    show_at_till: "این کد را در صندوق نشان دهید.",
    invite_friends: "دوستانتان را دعوت کنید",
    invite_hint: "دوستانتان هنگام عضویت این کد را بگویند تا هر دو امتیاز بگیرید.",
    consent_label: "پیشنهادها و خبرهای باشگاه برایم فرستاده شود.",
    save: "ذخیره",
    your_data: "داده‌های شما",
    download_data: "دریافت همهٔ داده‌های من (JSON)",
    history: "تاریخچه",
    nothing_yet: "هنوز تراکنشی نیست.",
    place: "کجا",
    kind_expiry: "انقضا",
    messages_title: "پیامک‌های فرستاده‌شده (فقط محیط توسعه)",
    written: "نوشته‌شده",
    sent: "فرستاده‌شده",
    to: "به",
    text: "متن",
    member_portal_hint: "برای اعضا: موجودی، سطح، تاریخچه و کارت باشگاه.",
    enrol: "عضویت مشتری تازه",
    enrolled: "عضو تازه ثبت شد.",
    full_name: "نام و نام خانوادگی",
    phone: "شمارهٔ همراه",
    email: "ایمیل",
    birth_date: "تاریخ تولد",
    city: "شهر",
    invite_code: "کد دعوت",
    photo: "عکس",
    consent_messages: "مایلم پیشنهادها و خبرهای باشگاه برایم فرستاده شود.",
    bonus: "امتیاز هدیه",
    progress_to: "تا سطح بعد",
    available: "قابل استفاده",
    held: "رزروشده",
    pending: "در انتظار",
    redeemable_here: "ارزش در این شعبه",
    offers_today: "پیشنهادهای امروز",
    purchase_amount: "مبلغ خرید (ریال)",
    bill_reference: "شمارهٔ فاکتور",
    optional: "اختیاری",
    earn: "ثبت خرید",
    points_to_redeem: "امتیاز برای کسر",
    redeem: "کسر امتیاز",
    reverse: "برگشت",
    receipt: "رسید",
    replayed: "این عملیات پیش‌تر ثبت شده بود؛ همان رسید نشان داده می‌شود.",
    points_earned: "امتیاز گرفت",
    points_redeemed: "امتیاز کسر شد",
    discount: "تخفیف",
    purchase: "خرید",
    transaction: "تراکنش",
    at: "زمان",
    cashier: "صندوق‌دار",
    card: "کارت",
    back_to_till: "بازگشت به صندوق",
    today: "تراکنش‌های امروز",
    today_title: "تراکنش‌های امروز شعبه",
    nothing_today: "امروز تراکنشی ثبت نشده است.",
    time: "ساعت",
    kind: "نوع",
    points: "امتیاز",
    amount: "مبلغ",
    state: "وضعیت",
    kind_earn: "خرید",
    kind_redeem: "کسر امتیاز",
    kind_reversal: "برگشت",
    kind_bonus: "جایزه",
    kind_other: "دیگر",
    state_posted: "ثبت‌شده",
    state_pending: "در انتظار",
    state_voided: "باطل‌شده",
    points_unit: "امتیاز",
    point_unit: "امتیاز",
    amount_invalid: "مبلغ را به ریال و با رقم بنویسید.",
    points_invalid: "تعداد امتیاز را با رقم بنویسید.",
};

pub(crate) const EN: Words = Words {
    lang: Lang::En,
    code: "en",
    dir: "ltr",
    other_code: "fa",
    other_name: "فارسی",
    club: "Customer club",
    home_intro: "Our partners' shared customer club: one card, points earned anywhere, spent anywhere.",
    pos_title: "Till",
    pos_hint: "For cashiers: check a card, record a purchase, redeem points, reverse.",
    sign_in: "Sign in",
    sign_out: "Sign out",
    login: "Login",
    password: "Password",
    sign_in_hint: "Sign in with your staff account.",
    sign_in_invalid: "The login or the password is wrong.",
    sign_in_locked: "Too many failed sign-ins; try again in a few minutes.",
    error_title: "Error",
    not_found: "No such page or transaction.",
    forbidden: "You may not see this page or act at this branch.",
    session_ended: "Your session has ended; sign in again.",
    csrf_refused: "This form was not sent from this page, or is stale; open the page again.",
    unavailable: "The service is briefly unavailable; try again in a few seconds. Nothing was recorded.",
    bad_form: "The form is incomplete or not valid.",
    internal: "Something unexpected went wrong; nothing was recorded.",
    back_home: "Back",
    branch: "Branch",
    change_branch: "Change branch",
    card_number: "Card number",
    check_card: "Check card",
    next_customer: "Next customer",
    tier: "Tier",
    no_tier: "No tier",
    member_title: "My club",
    member_sign_in: "Members' sign-in",
    member_sign_in_hint: "Enter the mobile number you joined with; we text you a code.",
    send_code: "Send me a code",
    code_sent_to: "If this number is a member's, a code was sent to it:",
    sign_in_code: "Code",
    verify: "Sign in",
    other_phone: "Another number",
    your_card: "Your club card",
    show_at_till: "Show this code at the till.",
    invite_friends: "Invite your friends",
    invite_hint: "Friends who give this code when they join earn you both points.",
    consent_label: "Send me the club's offers and news.",
    save: "Save",
    your_data: "Your data",
    download_data: "Download all my data (JSON)",
    history: "History",
    nothing_yet: "No transactions yet.",
    place: "Where",
    kind_expiry: "Expiry",
    messages_title: "Text messages sent (development only)",
    written: "Written",
    sent: "Sent",
    to: "To",
    text: "Text",
    member_portal_hint: "For members: balance, tier, history and your club card.",
    enrol: "Enrol a new member",
    enrolled: "Enrolled.",
    full_name: "Full name",
    phone: "Mobile number",
    email: "Email",
    birth_date: "Birth date",
    city: "City",
    invite_code: "Invite code",
    photo: "Photo",
    consent_messages: "I agree to be sent the club's offers and news.",
    bonus: "bonus points",
    progress_to: "Toward",
    available: "Available",
    held: "Held",
    pending: "Pending",
    redeemable_here: "Worth here",
    offers_today: "Today's offers",
    purchase_amount: "Purchase amount (IRR)",
    bill_reference: "Bill number",
    optional: "optional",
    earn: "Record purchase",
    points_to_redeem: "Points to redeem",
    redeem: "Redeem points",
    reverse: "Reverse",
    receipt: "Receipt",
    replayed: "This was already recorded; here is the same receipt.",
    points_earned: "points earned",
    points_redeemed: "points redeemed",
    discount: "Discount",
    purchase: "Purchase",
    transaction: "Transaction",
    at: "Time",
    cashier: "Cashier",
    card: "Card",
    back_to_till: "Back to the till",
    today: "Today's transactions",
    today_title: "Today's transactions at the branch",
    nothing_today: "No transactions yet today.",
    time: "Time",
    kind: "Kind",
    points: "Points",
    amount: "Amount",
    state: "State",
    kind_earn: "Purchase",
    kind_redeem: "Redemption",
    kind_reversal: "Reversal",
    kind_bonus: "Bonus",
    kind_other: "Other",
    state_posted: "posted",
    state_pending: "pending",
    state_voided: "voided",
    points_unit: "points",
    point_unit: "point",
    amount_invalid: "Write the amount in rials, in digits.",
    points_invalid: "Write the number of points in digits.",
};

/// A refusal from the domain, in the page's language: its stable code's Persian text where one
/// is written, the domain's own (English) text otherwise.
pub(crate) fn refusal(lang: Lang, code: &str, english: &str) -> String {
    if lang == Lang::En {
        return english.to_owned();
    }
    let persian = match code {
        "card_number_invalid" => "شمارهٔ کارت درست نیست (۱۶ رقم، با رقم کنترل).",
        "card_unknown" => "کارتی با این شماره نیست.",
        "card_blocked" => "این کارت مسدود است.",
        "card_lost" => "این کارت گم‌شده اعلام شده است.",
        "member_closed" => "حساب این عضو بسته شده است.",
        "insufficient_points" => "امتیاز قابل استفادهٔ عضو کافی نیست.",
        "transaction_not_found" => "این تراکنش پیدا نشد.",
        "transaction_not_reversible" => "این تراکنش برگشت‌پذیر نیست.",
        "reversal_exceeds_original" => "این تراکنش پیش‌تر برگشت خورده است.",
        "reference_already_used" => "این شمارهٔ فاکتور پیش‌تر به کار رفته است.",
        "reference_invalid" => "شمارهٔ فاکتور درست نیست.",
        "point_rule_missing" => "برای این شعبه قاعدهٔ امتیاز تعریف نشده است.",
        "purchase_too_small" => "مبلغ خرید کمتر از حداقل است.",
        "purchase_above_limit" | "amount_too_large" => "مبلغ از سقف مجاز بیشتر است.",
        "points_above_limit" => "تعداد امتیاز از سقف مجاز بیشتر است.",
        "earn_cap_reached" => "سقف امتیاز این عضو برای امروز یا این ماه پر شده است.",
        "invalid_member_data" => "اطلاعات عضو درست نیست.",
        "member_already_enrolled" => "این شماره پیش‌تر عضو شده است.",
        "invite_code_unknown" => "این کد دعوت شناخته نشد.",
        "photo_invalid" => "عکس باید JPEG یا PNG یا WebP باشد.",
        "photo_too_large" => "عکس حداکثر ۵ مگابایت می‌تواند باشد.",
        "birth_date_invalid" => "تاریخ تولد درست نیست.",
        "member_phone_invalid" => {
            "شمارهٔ همراه را کامل و با پیش‌شمارهٔ کشور بنویسید، مانند ‎+989121234567."
        }
        "sign_in_code_throttled" => "تلاش‌ها بیش از اندازه بوده است؛ چند دقیقهٔ دیگر دوباره تلاش کنید.",
        "sign_in_code_invalid" => "کد درست نیست یا منقضی شده است؛ کد تازه بخواهید.",
        "idempotency_request_in_flight" => "همین درخواست در حال انجام است؛ چند لحظه صبر کنید.",
        _ => return english.to_owned(),
    };
    persian.to_owned()
}
