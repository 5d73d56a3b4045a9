"""ISO 3166-1 alpha-2 country codes: the `country` of an address (Togai documents it as alpha-2; docs/api.md).

Written by hand, like the ISO 4217 table of `core/money.py`: the list is static (249 officially assigned codes, as of
ISO/TC 46 N1108, 2023-04-05; the same set as tzdata's iso3166.tab), and a package would add nothing else we use.
User-assigned codes (XK and the like) and alpha-3 codes or names are not countries here.
"""

from __future__ import annotations

ALPHA2 = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY
    BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK
    FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR
    IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK
    ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
    TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """.split()
)


def country_code(value: str) -> str:
    """The code in capitals (`us` is read as `US`); anything that is not an assigned alpha-2 code is refused."""
    code = value.strip().upper()
    if code not in ALPHA2:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code, such as US, DE or IN")
    return code
