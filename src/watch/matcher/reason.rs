//! What a hit is: the entry, the term, why it matched ([`Reason`]), where
//! ([`Field`]), and how sure that makes it ([`confidence`]). Stored with
//! every match and shown in every alert.

/// Why a term matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// The entry's name, word for word.
    Name,
    /// One of its aliases.
    Alias,
    /// One of its domains, or a subdomain of one.
    Domain,
    /// The name or an alias without its legal suffix ("Qualys, Inc." → "Qualys").
    Suffix,
    /// A domain whose registrable label is the name run together (`kumhotire.com`).
    Label,
    /// A title truncated by the site that starts like the name.
    Truncated,
    /// A title masked by the site that fits the name (`Ac*****on`).
    Masked,
    /// A posting on the entry's own disclosure channel (`about` in the config).
    About,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Name => "name",
            Reason::Alias => "alias",
            Reason::Domain => "domain",
            Reason::Suffix => "suffix",
            Reason::Label => "label",
            Reason::Truncated => "truncated",
            Reason::Masked => "masked",
            Reason::About => "about",
        }
    }

    /// How sure a hit of this kind in the title is, in percent.
    pub(super) fn confidence(self) -> u8 {
        match self {
            Reason::Name | Reason::Domain | Reason::About => 100,
            Reason::Alias => 95,
            Reason::Suffix | Reason::Label => 90,
            Reason::Truncated => 60,
            Reason::Masked => 50,
        }
    }
}

/// Where in the posting the term was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Title,
    Body,
    Link,
    /// The victim's website as the source states it.
    Website,
    /// A disclosure's vendor or product as the source states it.
    Vendor,
    Product,
    /// The post's own page ([source.detail]), read after the listing.
    Page,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Body => "body",
            Field::Link => "link",
            Field::Website => "website",
            Field::Vendor => "vendor",
            Field::Product => "product",
            Field::Page => "page",
        }
    }
}

/// Confidence, in percent, of a hit of `reason` found in `field`: the title
/// names the victim; a body may only mention a name in passing.
pub fn confidence(reason: Reason, field: Field) -> u8 {
    let base = reason.confidence();
    match field {
        Field::Title | Field::Website | Field::Vendor | Field::Product => base,
        Field::Link => base - 10,
        Field::Body | Field::Page => (u16::from(base) * 3 / 4) as u8,
    }
}

/// A watch entry found in a posting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub entry_id: i64,
    /// The watch term as the entry writes it.
    pub term: String,
    pub reason: Reason,
    pub field: Field,
    /// Posting text around the match, the match wrapped in `[[` `]]`.
    pub snippet: String,
    /// How sure the match is, 0–100: see [`confidence`].
    pub confidence: u8,
}
