//! Places: `street-address`, `city`, `postcode`, `state`, `country` from `fake`'s locale data (plus
//! compact lists of our own where `fake` has none, e.g. Spanish and Japanese places), and
//! `latitude` / `longitude`, random or kept within a radius of the original.

use std::fmt::Write as _;
use std::sync::Arc;

use fake::locales::{self, Data};
use rand::rngs::SmallRng;
use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use super::{kind_name, pick, text_of, transform_error, truncate, Built, Ctx, Entry};
use crate::engine::DomainHasher;
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{ColumnKind, TransformError, Transformer, Value};

/// How a locale writes a street address.
#[derive(Clone, Copy)]
enum Street {
    /// `1234 Smith Street`
    NumberNameSuffix,
    /// `12 Rue Dupont`
    NumberSuffixName,
    /// `Müllerstraße 12`
    NameSuffixNumber,
    /// `Calle Mayor, 12` / `Rua Souza, 120`
    SuffixNameCommaNumber,
    /// `Via Rossi 12`
    SuffixNameNumber,
    /// `本町3丁目12-5`
    Japanese,
}

#[derive(Clone, Copy)]
enum Cities {
    List(&'static [&'static str]),
    /// `[prefix ]name[ ]suffix` from the locale's name lists.
    Made {
        prefix: &'static [&'static str],
        suffix: &'static [&'static str],
        spaced: bool,
    },
}

/// Place data of one locale.
#[derive(Clone, Copy)]
struct Geo {
    first: &'static [&'static str],
    last: &'static [&'static str],
    street: Street,
    street_suffix: &'static [&'static str],
    /// Street names of their own; empty to use first and last names.
    street_names: &'static [&'static str],
    building_max: u32,
    cities: Cities,
    states: &'static [&'static str],
    state_abbr: &'static [&'static str],
    postcode: &'static [&'static str],
    countries: &'static [&'static str],
}

const LOCALES: &str = "en, fr, de, es, pt_br, it, ja";

fn geo(code: &str) -> Option<Geo> {
    use locales::{DE_DE, EN, FR_FR, IT_IT, JA_JP, PT_BR};
    Some(match code.to_ascii_lowercase().replace('-', "_").as_str() {
        "en" | "en_us" => Geo {
            first: EN::NAME_FIRST_NAME,
            last: EN::NAME_LAST_NAME,
            street: Street::NumberNameSuffix,
            street_suffix: EN::ADDRESS_STREET_SUFFIX,
            street_names: &[],
            building_max: 9999,
            cities: Cities::Made {
                prefix: EN::ADDRESS_CITY_PREFIX,
                suffix: EN::ADDRESS_CITY_SUFFIX,
                spaced: false,
            },
            states: EN::ADDRESS_STATE,
            state_abbr: EN::ADDRESS_STATE_ABBR,
            postcode: &["#####"],
            countries: EN::ADDRESS_COUNTRY,
        },
        "fr" | "fr_fr" => Geo {
            first: FR_FR::NAME_FIRST_NAME,
            last: FR_FR::NAME_LAST_NAME,
            street: Street::NumberSuffixName,
            street_suffix: FR_FR::ADDRESS_STREET_SUFFIX,
            street_names: &[],
            building_max: 150,
            cities: Cities::List(FR_CITIES),
            states: FR_REGIONS,
            state_abbr: &[],
            postcode: FR_FR::ADDRESS_POSTCODE_FORMATS,
            countries: FR_FR::ADDRESS_COUNTRY,
        },
        "de" | "de_de" => Geo {
            first: DE_DE::NAME_FIRST_NAME,
            last: DE_DE::NAME_LAST_NAME,
            street: Street::NameSuffixNumber,
            street_suffix: DE_DE::ADDRESS_STREET_SUFFIX,
            street_names: &[],
            building_max: 150,
            cities: Cities::Made {
                prefix: DE_DE::ADDRESS_CITY_PREFIX,
                suffix: DE_DE::ADDRESS_CITY_SUFFIX,
                spaced: false,
            },
            states: DE_DE::ADDRESS_STATE,
            state_abbr: DE_DE::ADDRESS_STATE_ABBR,
            postcode: &["#####"],
            countries: DE_COUNTRIES,
        },
        "es" | "es_es" => Geo {
            first: ES_STREET_NAMES,
            last: ES_STREET_NAMES,
            street: Street::SuffixNameCommaNumber,
            street_suffix: &[
                "Calle",
                "Avenida",
                "Paseo",
                "Plaza",
                "Camino",
                "Ronda",
                "Travesía",
                "Calle",
            ],
            street_names: ES_STREET_NAMES,
            building_max: 200,
            cities: Cities::List(ES_CITIES),
            states: ES_REGIONS,
            state_abbr: &[],
            postcode: &["0####", "1####", "2####", "3####", "4####"],
            countries: ES_COUNTRIES,
        },
        "pt_br" | "br" => Geo {
            first: PT_BR::NAME_FIRST_NAME,
            last: PT_BR::NAME_LAST_NAME,
            street: Street::SuffixNameCommaNumber,
            street_suffix: PT_BR::ADDRESS_STREET_SUFFIX,
            street_names: &[],
            building_max: 2999,
            cities: Cities::List(BR_CITIES),
            states: PT_BR::ADDRESS_STATE,
            state_abbr: PT_BR::ADDRESS_STATE_ABBR,
            postcode: PT_BR::ADDRESS_POSTCODE_FORMATS,
            countries: PT_COUNTRIES,
        },
        "it" | "it_it" => Geo {
            first: IT_IT::NAME_FIRST_NAME,
            last: IT_IT::NAME_LAST_NAME,
            street: Street::SuffixNameNumber,
            street_suffix: IT_IT::ADDRESS_STREET_SUFFIX,
            street_names: &[],
            building_max: 200,
            cities: Cities::Made {
                prefix: IT_IT::ADDRESS_CITY_PREFIX,
                suffix: IT_IT::ADDRESS_CITY_SUFFIX,
                spaced: true,
            },
            states: IT_IT::ADDRESS_STATE,
            state_abbr: IT_IT::ADDRESS_STATE_ABBR,
            postcode: IT_IT::ADDRESS_POSTCODE_FORMATS,
            countries: IT_IT::ADDRESS_COUNTRY,
        },
        "ja" | "ja_jp" => Geo {
            first: JA_JP::NAME_FIRST_NAME,
            last: JA_JP::NAME_LAST_NAME,
            street: Street::Japanese,
            street_suffix: &[],
            street_names: JA_TOWNS,
            building_max: 30,
            cities: Cities::List(JA_CITIES),
            states: JA_PREFECTURES,
            state_abbr: &[],
            postcode: &["###-####"],
            countries: JA_COUNTRIES,
        },
        _ => return None,
    })
}

const FR_CITIES: &[&str] = &[
    "Paris",
    "Marseille",
    "Lyon",
    "Toulouse",
    "Nice",
    "Nantes",
    "Montpellier",
    "Strasbourg",
    "Bordeaux",
    "Lille",
    "Rennes",
    "Reims",
    "Toulon",
    "Saint-Étienne",
    "Le Havre",
    "Grenoble",
    "Dijon",
    "Angers",
    "Nîmes",
    "Villeurbanne",
    "Clermont-Ferrand",
    "Le Mans",
    "Aix-en-Provence",
    "Brest",
    "Tours",
    "Amiens",
    "Limoges",
    "Annecy",
    "Perpignan",
    "Metz",
    "Besançon",
    "Orléans",
    "Rouen",
    "Mulhouse",
    "Caen",
    "Nancy",
    "Argenteuil",
    "Montreuil",
    "Roubaix",
    "Avignon",
    "Poitiers",
    "Pau",
    "La Rochelle",
    "Calais",
    "Cannes",
    "Colmar",
    "Quimper",
    "Valence",
    "Bayonne",
];

const FR_REGIONS: &[&str] = &[
    "Auvergne-Rhône-Alpes",
    "Bourgogne-Franche-Comté",
    "Bretagne",
    "Centre-Val de Loire",
    "Corse",
    "Grand Est",
    "Hauts-de-France",
    "Île-de-France",
    "Normandie",
    "Nouvelle-Aquitaine",
    "Occitanie",
    "Pays de la Loire",
    "Provence-Alpes-Côte d'Azur",
];

const ES_CITIES: &[&str] = &[
    "Madrid",
    "Barcelona",
    "Valencia",
    "Sevilla",
    "Zaragoza",
    "Málaga",
    "Murcia",
    "Palma",
    "Las Palmas",
    "Bilbao",
    "Alicante",
    "Córdoba",
    "Valladolid",
    "Vigo",
    "Gijón",
    "Granada",
    "A Coruña",
    "Vitoria",
    "Elche",
    "Oviedo",
    "Badalona",
    "Cartagena",
    "Terrassa",
    "Jerez de la Frontera",
    "Sabadell",
    "Móstoles",
    "Santander",
    "Almería",
    "Pamplona",
    "Burgos",
    "Albacete",
    "Castellón",
    "Logroño",
    "Badajoz",
    "Salamanca",
    "Huelva",
    "Lleida",
    "Tarragona",
    "León",
    "Cádiz",
    "Jaén",
    "Ourense",
    "Girona",
    "Cáceres",
    "Toledo",
    "Segovia",
];

const ES_REGIONS: &[&str] = &[
    "Andalucía",
    "Aragón",
    "Asturias",
    "Islas Baleares",
    "Canarias",
    "Cantabria",
    "Castilla-La Mancha",
    "Castilla y León",
    "Cataluña",
    "Comunidad Valenciana",
    "Extremadura",
    "Galicia",
    "Comunidad de Madrid",
    "Región de Murcia",
    "Navarra",
    "País Vasco",
    "La Rioja",
];

const ES_STREET_NAMES: &[&str] = &[
    "Mayor",
    "Real",
    "de Alcalá",
    "de Cervantes",
    "del Sol",
    "de la Paz",
    "de Goya",
    "de Velázquez",
    "del Carmen",
    "de San Juan",
    "de la Constitución",
    "de Colón",
    "de la Libertad",
    "del Mar",
    "de Santa Ana",
    "de Gran Vía",
    "de Miguel Hernández",
    "de Antonio Machado",
    "de Lope de Vega",
    "de la Iglesia",
    "del Pilar",
    "de los Olivos",
    "de la Estación",
    "de Andalucía",
    "de Castilla",
    "del Río",
    "de la Luna",
    "de Rosalía de Castro",
    "de Picasso",
    "de Federico García Lorca",
    "de la Fuente",
    "de las Flores",
    "del Prado",
    "de San Francisco",
];

const ES_COUNTRIES: &[&str] = &[
    "España",
    "Francia",
    "Portugal",
    "Alemania",
    "Italia",
    "Reino Unido",
    "Irlanda",
    "Países Bajos",
    "Bélgica",
    "Suiza",
    "Austria",
    "Suecia",
    "Noruega",
    "Dinamarca",
    "Polonia",
    "Grecia",
    "Estados Unidos",
    "Canadá",
    "México",
    "Argentina",
    "Chile",
    "Colombia",
    "Perú",
    "Venezuela",
    "Uruguay",
    "Brasil",
    "Marruecos",
    "Japón",
    "China",
    "India",
    "Australia",
    "Cuba",
];

const DE_COUNTRIES: &[&str] = &[
    "Deutschland",
    "Österreich",
    "Schweiz",
    "Frankreich",
    "Italien",
    "Spanien",
    "Portugal",
    "Niederlande",
    "Belgien",
    "Luxemburg",
    "Dänemark",
    "Schweden",
    "Norwegen",
    "Finnland",
    "Polen",
    "Tschechien",
    "Ungarn",
    "Griechenland",
    "Türkei",
    "Vereinigtes Königreich",
    "Irland",
    "Vereinigte Staaten",
    "Kanada",
    "Mexiko",
    "Brasilien",
    "Argentinien",
    "Japan",
    "China",
    "Indien",
    "Australien",
    "Ägypten",
    "Südafrika",
];

const BR_CITIES: &[&str] = &[
    "São Paulo",
    "Rio de Janeiro",
    "Brasília",
    "Salvador",
    "Fortaleza",
    "Belo Horizonte",
    "Manaus",
    "Curitiba",
    "Recife",
    "Goiânia",
    "Belém",
    "Porto Alegre",
    "Guarulhos",
    "Campinas",
    "São Luís",
    "São Gonçalo",
    "Maceió",
    "Duque de Caxias",
    "Natal",
    "Teresina",
    "Campo Grande",
    "Nova Iguaçu",
    "São Bernardo do Campo",
    "João Pessoa",
    "Santo André",
    "Osasco",
    "Jaboatão dos Guararapes",
    "Ribeirão Preto",
    "Uberlândia",
    "Sorocaba",
    "Contagem",
    "Aracaju",
    "Feira de Santana",
    "Cuiabá",
    "Joinville",
    "Juiz de Fora",
    "Londrina",
    "Niterói",
    "Florianópolis",
    "Vitória",
    "Santos",
];

const PT_COUNTRIES: &[&str] = &[
    "Brasil",
    "Portugal",
    "Argentina",
    "Uruguai",
    "Paraguai",
    "Chile",
    "Bolívia",
    "Peru",
    "Colômbia",
    "Venezuela",
    "México",
    "Estados Unidos",
    "Canadá",
    "Espanha",
    "França",
    "Itália",
    "Alemanha",
    "Reino Unido",
    "Irlanda",
    "Países Baixos",
    "Bélgica",
    "Suíça",
    "Angola",
    "Moçambique",
    "Cabo Verde",
    "Japão",
    "China",
    "Índia",
    "Austrália",
    "África do Sul",
];

const JA_CITIES: &[&str] = &[
    "札幌市",
    "仙台市",
    "さいたま市",
    "千葉市",
    "横浜市",
    "川崎市",
    "相模原市",
    "新潟市",
    "静岡市",
    "浜松市",
    "名古屋市",
    "京都市",
    "大阪市",
    "堺市",
    "神戸市",
    "岡山市",
    "広島市",
    "北九州市",
    "福岡市",
    "熊本市",
    "八王子市",
    "船橋市",
    "川口市",
    "姫路市",
    "宇都宮市",
    "松山市",
    "東大阪市",
    "西宮市",
    "倉敷市",
    "大分市",
    "金沢市",
    "福山市",
    "尼崎市",
    "長崎市",
    "富山市",
    "高松市",
    "岐阜市",
    "宮崎市",
    "那覇市",
    "鹿児島市",
];

const JA_TOWNS: &[&str] = &[
    "本町",
    "中央",
    "栄町",
    "旭町",
    "幸町",
    "緑町",
    "末広町",
    "新町",
    "元町",
    "大手町",
    "丸の内",
    "錦",
    "桜木町",
    "若松町",
    "東町",
    "西町",
    "南町",
    "北町",
    "松原",
    "青葉台",
    "日吉",
    "高田",
    "山手町",
    "港町",
    "城北",
    "春日",
    "松が丘",
    "花園",
    "住吉町",
    "富士見町",
];

const JA_PREFECTURES: &[&str] = &[
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
];

const JA_COUNTRIES: &[&str] = &[
    "日本",
    "アメリカ合衆国",
    "カナダ",
    "メキシコ",
    "ブラジル",
    "アルゼンチン",
    "イギリス",
    "フランス",
    "ドイツ",
    "イタリア",
    "スペイン",
    "ポルトガル",
    "オランダ",
    "ベルギー",
    "スイス",
    "オーストリア",
    "スウェーデン",
    "ノルウェー",
    "デンマーク",
    "フィンランド",
    "ポーランド",
    "ギリシャ",
    "トルコ",
    "中国",
    "韓国",
    "台湾",
    "インド",
    "タイ",
    "ベトナム",
    "インドネシア",
    "オーストラリア",
    "ニュージーランド",
    "エジプト",
    "南アフリカ",
];

#[derive(Clone, Copy)]
enum Kind {
    Street,
    City,
    Postcode { keep_format: bool },
    State { abbr: bool },
    Country { code: bool },
}

struct Place {
    kind: Kind,
    geo: Geo,
    keys: DomainHasher,
    max_chars: Option<usize>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PlaceOptions {
    #[serde(default = "super::default_locale")]
    locale: String,
    #[serde(default)]
    unique: bool,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PostcodeOptions {
    #[serde(default = "super::default_locale")]
    locale: String,
    #[serde(default)]
    keep_format: bool,
    #[serde(default)]
    unique: bool,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StateOptions {
    #[serde(default = "super::default_locale")]
    locale: String,
    #[serde(default)]
    abbr: bool,
    #[serde(default)]
    unique: bool,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CountryOptions {
    #[serde(default = "super::default_locale")]
    locale: String,
    #[serde(default)]
    code: bool,
    #[serde(default)]
    unique: bool,
}

fn build_place(ctx: &Ctx<'_>, kind: Kind, locale: &str, unique: bool, keys: DomainHasher) -> Built {
    let geo = geo(locale).ok_or_else(|| ctx.bad_option(format!("unknown locale `{locale}`; supported: {LOCALES}")))?;
    ctx.require_text()?;
    if ctx.unique(unique) {
        return Err(ctx.not_unique("places repeat; use `hash`, or `random` (same-shape unique text)"));
    }
    let min = match kind {
        Kind::Postcode { keep_format: false } => geo.postcode.iter().map(|p| p.chars().count()).max().unwrap_or(0),
        _ => 2,
    };
    if let Kind::State { abbr: true } = kind {
        if geo.state_abbr.is_empty() {
            return Err(ctx.bad_option(format!("locale `{locale}` has no state abbreviations; drop `abbr`")));
        }
    }
    if let Some(max) = ctx.max_chars() {
        if min > max {
            return Err(ctx.incompatible(format!(
                "the values need {min} characters and the column holds {max}; use `redacted` or `keep_format: true`"
            )));
        }
    }
    Ok(Arc::new(Place {
        kind,
        geo,
        keys,
        max_chars: ctx.max_chars(),
    }))
}

fn build_street(ctx: &Ctx<'_>) -> Built {
    let (o, keys) = ctx.parse::<PlaceOptions>()?;
    build_place(ctx, Kind::Street, &o.locale, o.unique, keys)
}

fn build_city(ctx: &Ctx<'_>) -> Built {
    let (o, keys) = ctx.parse::<PlaceOptions>()?;
    build_place(ctx, Kind::City, &o.locale, o.unique, keys)
}

fn build_postcode(ctx: &Ctx<'_>) -> Built {
    let (o, keys) = ctx.parse::<PostcodeOptions>()?;
    let kind = Kind::Postcode {
        keep_format: o.keep_format,
    };
    build_place(ctx, kind, &o.locale, o.unique, keys)
}

fn build_state(ctx: &Ctx<'_>) -> Built {
    let (o, keys) = ctx.parse::<StateOptions>()?;
    build_place(ctx, Kind::State { abbr: o.abbr }, &o.locale, o.unique, keys)
}

fn build_country(ctx: &Ctx<'_>) -> Built {
    let (o, keys) = ctx.parse::<CountryOptions>()?;
    build_place(ctx, Kind::Country { code: o.code }, &o.locale, o.unique, keys)
}

fn bits(rng: &mut SmallRng) -> u32 {
    rng.random::<u32>()
}

impl Place {
    fn name(&self, rng: &mut SmallRng) -> &'static str {
        if !self.geo.street_names.is_empty() {
            pick(self.geo.street_names, bits(rng))
        } else if bits(rng) & 1 == 0 {
            pick(self.geo.first, bits(rng))
        } else {
            pick(self.geo.last, bits(rng))
        }
    }

    /// One candidate value; `out` is cleared first.
    fn generate(&self, rng: &mut SmallRng, input: &str, out: &mut String) {
        out.clear();
        let g = &self.geo;
        match self.kind {
            Kind::Street => {
                let n = rng.random_range(1..=g.building_max);
                let name = self.name(rng);
                let suffix = if g.street_suffix.is_empty() {
                    ""
                } else {
                    pick(g.street_suffix, bits(rng))
                };
                let _ = match g.street {
                    Street::NumberNameSuffix => write!(out, "{n} {name} {suffix}"),
                    Street::NumberSuffixName => write!(out, "{n} {suffix} {name}"),
                    Street::NameSuffixNumber => write!(out, "{name}{suffix} {n}"),
                    Street::SuffixNameCommaNumber => write!(out, "{suffix} {name}, {n}"),
                    Street::SuffixNameNumber => write!(out, "{suffix} {name} {n}"),
                    Street::Japanese => write!(
                        out,
                        "{name}{}丁目{}-{}",
                        rng.random_range(1..=9u8),
                        n,
                        rng.random_range(1..=20u8)
                    ),
                };
            }
            Kind::City => match g.cities {
                Cities::List(list) => out.push_str(pick(list, bits(rng))),
                Cities::Made { prefix, suffix, spaced } => {
                    let variant = rng.random_range(0..4u8);
                    if variant == 0 {
                        out.push_str(pick(prefix, bits(rng)));
                        out.push(' ');
                    }
                    out.push_str(match variant {
                        1 => pick(g.first, bits(rng)),
                        _ => pick(g.last, bits(rng)),
                    });
                    if spaced {
                        out.push(' ');
                    }
                    out.push_str(pick(suffix, bits(rng)));
                }
            },
            Kind::Postcode { keep_format } => {
                let pattern = if keep_format {
                    input
                } else {
                    pick(g.postcode, bits(rng))
                };
                for c in pattern.chars() {
                    out.push(match c {
                        '#' if !keep_format => (b'0' + rng.random_range(0..10u8)) as char,
                        c if keep_format && c.is_ascii_digit() => (b'0' + rng.random_range(0..10u8)) as char,
                        c if keep_format && c.is_ascii_uppercase() => (b'A' + rng.random_range(0..26u8)) as char,
                        c if keep_format && c.is_ascii_lowercase() => (b'a' + rng.random_range(0..26u8)) as char,
                        c => c,
                    });
                }
            }
            Kind::State { abbr } => out.push_str(pick(if abbr { g.state_abbr } else { g.states }, bits(rng))),
            Kind::Country { code } => out.push_str(pick(
                if code {
                    locales::EN::ADDRESS_COUNTRY_CODE
                } else {
                    g.countries
                },
                bits(rng),
            )),
        }
    }
}

impl Transformer for Place {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let mut rng = self.keys.rng(input.as_bytes());
        let mut out = String::with_capacity(32);
        // A handful of draws always finds a value other than the input (lists have many entries;
        // a postcode of the input's shape without any letter or digit cannot change).
        for _ in 0..16 {
            self.generate(&mut rng, &input, &mut out);
            let cut = truncate(&out, self.max_chars).len();
            out.truncate(cut);
            if out != *input {
                return Ok(Value::text(out));
            }
        }
        Ok(Value::text(out))
    }
}

fn locale_option(what: &'static str) -> OptionInfo {
    OptionInfo {
        name: "locale",
        kind: "string",
        default: "en",
        description: what,
    }
}

fn not_unique_option() -> OptionInfo {
    OptionInfo {
        name: "unique",
        kind: "bool",
        default: "false",
        description: "Places repeat, so this is refused: use `hash` on unique columns",
    }
}

pub(crate) const STREET_ADDRESS: Entry = Entry {
    name: "street-address",
    info: || {
        TransformerInfo {
        name: "street-address",
        description: "A street address line (number, street name and type) written the locale's way",
        unique_safe: false,
        options: vec![
            locale_option("en `1234 Smith Street`, fr `12 Rue Dupont`, de `Müllerstraße 12`, es `Calle Mayor, 12`, pt_br `Rua Souza, 120`, it `Via Rossi 12`, ja `本町3丁目12-5`"),
            not_unique_option(),
        ],
        example: "address: { transformer: street-address, locale: fr }",
    }
    },
    build: build_street,
};

pub(crate) const CITY: Entry = Entry {
    name: "city",
    info: || TransformerInfo {
        name: "city",
        description: "A city name of the locale (made-up for en, de, it; real cities for fr, es, pt_br, ja)",
        unique_safe: false,
        options: vec![locale_option(LOCALES), not_unique_option()],
        example: "city: { transformer: city, locale: es }",
    },
    build: build_city,
};

pub(crate) const POSTCODE: Entry = Entry {
    name: "postcode",
    info: || TransformerInfo {
        name: "postcode",
        description: "A postcode in the locale's format, or the input's own shape with keyed digits and letters",
        unique_safe: false,
        options: vec![
            locale_option("en `#####`, fr/de/it/es `#####`, pt_br `#####-###`, ja `###-####`"),
            OptionInfo {
                name: "keep_format",
                kind: "bool",
                default: "false",
                description: "Keep the input's shape (e.g. `SW1A 1AA`), replacing each digit and letter",
            },
            not_unique_option(),
        ],
        example: "zip: { transformer: postcode, locale: pt_br }",
    },
    build: build_postcode,
};

pub(crate) const STATE: Entry = Entry {
    name: "state",
    info: || TransformerInfo {
        name: "state",
        description: "A state, region or prefecture of the locale",
        unique_safe: false,
        options: vec![
            locale_option("en (US states), fr (régions), de (Länder), es (comunidades), pt_br, it, ja (prefectures)"),
            OptionInfo {
                name: "abbr",
                kind: "bool",
                default: "false",
                description: "The abbreviation (`CA`, `BY`, `SP`); en, de, pt_br and it only",
            },
            not_unique_option(),
        ],
        example: "state: { transformer: state, locale: en, abbr: true }",
    },
    build: build_state,
};

pub(crate) const COUNTRY: Entry = Entry {
    name: "country",
    info: || TransformerInfo {
        name: "country",
        description: "A country name in the locale's language, or an ISO 3166 alpha-2 code",
        unique_safe: false,
        options: vec![
            locale_option(LOCALES),
            OptionInfo {
                name: "code",
                kind: "bool",
                default: "false",
                description: "The two-letter ISO code (`FR`) instead of the name",
            },
            not_unique_option(),
        ],
        example: "country: { transformer: country, code: true }",
    },
    build: build_country,
};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CoordOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    radius_km: Option<f64>,
    #[serde(default)]
    unique: bool,
}

struct Coord {
    latitude: bool,
    radius_km: Option<f64>,
    keys: DomainHasher,
    max_chars: Option<usize>,
}

/// Kilometres per degree of latitude (and of longitude at the equator, its largest).
const KM_PER_DEGREE: f64 = 111.32;

fn build_coord(ctx: &Ctx<'_>, latitude: bool) -> Built {
    let (opts, keys) = ctx.parse::<CoordOptions>()?;
    if let Some(r) = opts.radius_km {
        if !(r.is_finite() && r > 0.0) {
            return Err(ctx.bad_option(format!("`radius_km` must be a positive number of km, got {r}")));
        }
    }
    match &ctx.column.kind {
        ColumnKind::Text { .. } | ColumnKind::Other(_) | ColumnKind::Float | ColumnKind::Numeric { .. } => {}
        kind => {
            return Err(ctx.incompatible(format!(
                "it writes a coordinate and the column is {}; use `random` or `keep`",
                kind_name(kind)
            )))
        }
    }
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("coordinates may repeat; use `random` (unique values of the column's type)"));
    }
    if ctx.max_chars().is_some_and(|m| m < 4) {
        return Err(ctx.incompatible("a coordinate needs up to 4 characters (`-180`)"));
    }
    Ok(Arc::new(Coord {
        latitude,
        radius_km: opts.radius_km,
        keys,
        max_chars: ctx.max_chars(),
    }))
}

/// Digits after the decimal point of a number's text (before any exponent).
fn decimals(s: &str) -> usize {
    s.split_once('.')
        .map_or(0, |(_, frac)| frac.bytes().take_while(u8::is_ascii_digit).count())
}

impl Coord {
    fn name(&self) -> &'static str {
        if self.latitude {
            "latitude"
        } else {
            "longitude"
        }
    }

    fn fake(&self, original: f64, rng: &mut SmallRng) -> f64 {
        let limit = if self.latitude { 90.0 } else { 180.0 };
        let Some(radius) = self.radius_km else {
            return rng.random_range(-limit..=limit);
        };
        // Latitude and longitude are separate columns, transformed without seeing each other: each
        // moves at most radius/√2 along its own axis, so the pair stays within the radius. A degree
        // of longitude is at most 111.32 km (at the equator), so its move in km is never larger.
        let reach = radius / std::f64::consts::SQRT_2 / KM_PER_DEGREE;
        let delta = rng.random_range(-reach..=reach);
        let v = original + delta;
        if self.latitude {
            // Past a pole: come back down the other side.
            if v > 90.0 {
                180.0 - v
            } else if v < -90.0 {
                -180.0 - v
            } else {
                v
            }
        } else if v > 180.0 {
            v - 360.0
        } else if v < -180.0 {
            v + 360.0
        } else {
            v
        }
    }
}

impl Transformer for Coord {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        let original = match &value {
            Value::Null => return Ok(Value::Null),
            Value::Float(f) => *f,
            Value::Int(i) => *i as f64,
            other => text_of(other)
                .trim()
                .parse::<f64>()
                .map_err(|_| transform_error(self.name(), "the value is not a number (decimal degrees expected)"))?,
        };
        let text = text_of(&value);
        let limit = if self.latitude { 90.0 } else { 180.0 };
        let mut places = decimals(text.trim());
        let mut rng = self.keys.rng(text.as_bytes());
        let mut v = self.fake(original, &mut rng);
        let unit = 10f64.powi(-(places.min(15) as i32));
        let rounded = |x: f64| (x / unit).round() * unit;
        if rounded(v) == rounded(original) {
            // Rounding gave the original back: move by one unit of the last decimal, inwards.
            v = rounded(original) + if original > 0.0 { -unit } else { unit };
        }
        v = rounded(v).clamp(-limit, limit);
        let mut out = format!("{v:.places$}");
        while self.max_chars.is_some_and(|m| out.len() > m) && places > 0 {
            places -= 1;
            out = format!("{v:.places$}");
        }
        Ok(match value {
            Value::Float(_) => Value::Float(out.parse().unwrap_or(v)),
            Value::Int(_) => Value::Int(v.round() as i64),
            _ => Value::text(out),
        })
    }
}

fn coord_options() -> Vec<OptionInfo> {
    vec![
        OptionInfo {
            name: "radius_km",
            kind: "number",
            default: "none (anywhere)",
            description:
                "Stay within this many km of the original (deterministic); the input's decimal places are kept",
        },
        OptionInfo {
            name: "unique",
            kind: "bool",
            default: "false",
            description: "Coordinates may repeat, so this is refused",
        },
    ]
}

pub(crate) const LATITUDE: Entry = Entry {
    name: "latitude",
    info: || {
        TransformerInfo {
        name: "latitude",
        description: "A latitude in decimal degrees, anywhere or within `radius_km` of the original, with the input's decimal places",
        unique_safe: false,
        options: coord_options(),
        example: "lat: { transformer: latitude, radius_km: 10 }",
    }
    },
    build: |ctx| build_coord(ctx, true),
};

pub(crate) const LONGITUDE: Entry = Entry {
    name: "longitude",
    info: || {
        TransformerInfo {
        name: "longitude",
        description: "A longitude in decimal degrees, anywhere or within `radius_km` of the original, with the input's decimal places",
        unique_safe: false,
        options: coord_options(),
        example: "lon: { transformer: longitude, radius_km: 10 }",
    }
    },
    build: |ctx| build_coord(ctx, false),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil::*;
    use crate::{BuildError, ColumnSpec};
    use serde_json::json;

    const ALL: [&str; 7] = ["en", "fr", "de", "es", "pt_br", "it", "ja"];

    #[test]
    fn addresses_per_locale() {
        for locale in ALL {
            let t = rule("street-address", json!({ "locale": locale }));
            for i in 0..300 {
                let input = format!("{i} Main Street");
                let out = run(&*t, &input);
                assert!(
                    out.chars().any(|c| c.is_ascii_digit()) && out.chars().count() > 5,
                    "{locale}: {out}"
                );
                assert_ne!(out, input);
                assert_eq!(out, run(&*t, &input));
            }
            assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        }
        let fr = run(&*rule("street-address", json!({"locale": "fr"})), "x");
        assert!(
            locales::FR_FR::ADDRESS_STREET_SUFFIX.iter().any(|s| fr.contains(s)),
            "{fr}"
        );
        let ja = run(&*rule("street-address", json!({"locale": "ja"})), "x");
        assert!(ja.contains("丁目"), "{ja}");
    }

    #[test]
    fn cities_states_countries() {
        for locale in ALL {
            for name in ["city", "state", "country"] {
                let t = rule(name, json!({ "locale": locale }));
                let out = run(&*t, "Springfield");
                assert!(!out.is_empty() && out != "Springfield", "{name}/{locale}");
            }
        }
        let es = rule("city", json!({"locale": "es"}));
        assert!(ES_CITIES.contains(&run(&*es, "Madrid").as_str()));
        for c in ES_CITIES {
            assert_ne!(run(&*es, c), *c);
        }
        let states = rule("state", json!({"abbr": true}));
        for s in locales::EN::ADDRESS_STATE_ABBR {
            let out = run(&*states, s);
            assert!(out.len() == 2 && out != *s);
        }
        let code = rule("country", json!({"code": true}));
        let out = run(&*code, "FR");
        assert!(out.len() == 2 && out != "FR" && out.bytes().all(|b| b.is_ascii_uppercase()));
        let ja = rule("state", json!({"locale": "ja"}));
        assert!(JA_PREFECTURES.contains(&run(&*ja, "東京都").as_str()));
        assert!(matches!(
            build_on("state", json!({"locale": "fr", "abbr": true}), &ColumnSpec::text("t")),
            Err(BuildError::BadOption { .. })
        ));
        assert!(matches!(
            build_on("city", json!({"locale": "xx"}), &ColumnSpec::text("t")),
            Err(BuildError::BadOption { message, .. }) if message.contains("pt_br")
        ));
    }

    #[test]
    fn postcodes() {
        let br = rule("postcode", json!({"locale": "pt_br"}));
        let out = run(&*br, "01310-100");
        assert!(
            out.len() == 9 && out.as_bytes()[5] == b'-' && out != "01310-100",
            "{out}"
        );
        let ja = run(&*rule("postcode", json!({"locale": "ja"})), "100-0001");
        assert!(ja.len() == 8 && ja.as_bytes()[3] == b'-', "{ja}");
        let keep = rule("postcode", json!({"keep_format": true}));
        for input in ["SW1A 1AA", "75008", "k1a 0b1", "1012 AB"] {
            let out = run(&*keep, input);
            assert_eq!(out.len(), input.len());
            assert_ne!(out, input);
            for (a, b) in input.chars().zip(out.chars()) {
                assert_eq!(a.is_ascii_digit(), b.is_ascii_digit());
                assert_eq!(a.is_ascii_uppercase(), b.is_ascii_uppercase());
                assert_eq!(a.is_ascii_lowercase(), b.is_ascii_lowercase());
            }
        }
        assert!(is_incompatible(
            &build_on("postcode", json!({"locale": "pt_br"}), &varchar(5)),
            "9"
        ));
        assert!(build_on("postcode", json!({"keep_format": true}), &varchar(5)).is_ok());
    }

    #[test]
    fn fits_and_refuses_unique() {
        for name in [
            "street-address",
            "city",
            "state",
            "country",
            "postcode",
            "latitude",
            "longitude",
        ] {
            let r = build_on(name, json!(null), &unique(ColumnKind::Text { max_chars: None }));
            assert!(is_incompatible(&r, "can produce duplicates"), "{name}");
        }
        let t = build_on("street-address", json!(null), &varchar(6)).unwrap();
        for i in 0..200 {
            assert!(run(&*t, &format!("a{i}")).chars().count() <= 6);
        }
    }

    fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
        let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
        let (dp, dl) = ((lat2 - lat1).to_radians(), (lon2 - lon1).to_radians());
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * 6371.0 * a.sqrt().asin()
    }

    #[test]
    fn coordinates_in_range_and_radius() {
        let lat = rule("latitude", json!(null));
        let lon = rule("longitude", json!(null));
        for i in 0..1000 {
            let input = format!("{:.4}", i as f64 / 20.0);
            let a: f64 = run(&*lat, &input).parse().unwrap();
            let b: f64 = run(&*lon, &input).parse().unwrap();
            assert!((-90.0..=90.0).contains(&a) && (-180.0..=180.0).contains(&b));
            assert_eq!(decimals(&run(&*lat, &input)), 4);
            assert_ne!(run(&*lat, &input), input);
        }
        let near_lat = rule("latitude", json!({"radius_km": 5}));
        let near_lon = rule("longitude", json!({"radius_km": 5}));
        for i in 0..2000 {
            let (la, lo) = (-60.0 + i as f64 * 0.06, -170.0 + i as f64 * 0.17);
            let (lat_in, lon_in) = (format!("{la:.6}"), format!("{lo:.6}"));
            let la2: f64 = run(&*near_lat, &lat_in).parse().unwrap();
            let lo2: f64 = run(&*near_lon, &lon_in).parse().unwrap();
            assert_eq!(decimals(&run(&*near_lat, &lat_in)), 6);
            assert!(haversine_km(la, lo, la2, lo2) <= 5.0 + 1e-3, "{la},{lo} -> {la2},{lo2}");
            assert_ne!(run(&*near_lat, &lat_in), lat_in);
            assert_eq!(run(&*near_lat, &lat_in), run(&*near_lat, &lat_in));
        }
        // Typed and integer inputs.
        assert!(
            matches!(lat.transform(Value::Float(48.8566)).unwrap(), Value::Float(f) if f != 48.8566 && (-90.0..=90.0).contains(&f))
        );
        assert_ne!(run(&*near_lat, "48"), "48");
        assert!(lat.transform(Value::text("north")).is_err());
        assert_eq!(lat.transform(Value::Null).unwrap(), Value::Null);
        assert!(matches!(
            build_on("latitude", json!({"radius_km": -1}), &ColumnSpec::text("t")),
            Err(BuildError::BadOption { .. })
        ));
        assert!(build_on("longitude", json!(null), &column(ColumnKind::Float)).is_ok());
        assert!(is_incompatible(
            &build_on("latitude", json!(null), &column(ColumnKind::Bool)),
            "bool"
        ));
    }
}
