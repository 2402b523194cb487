"""Active ISO 4217 currency codes, checked against ISO 4217 List One as published in 2026.

A mistyped or retired currency makes ad platforms reject or misvalue conversions, so the
container document refuses any code not listed here. Only codes for money are included; these
are left out because a sale is never valued in them: fund codes (BOV, CHE, CHW, CLF, COU, MXV,
USN, UYI, UYW), precious metals (XAG, XAU, XPD, XPT), bond-market and accounting units (XAD,
XBA-XBD, XDR, XSU, XUA), and the testing and "no currency" codes (XTS, XXX). Retired codes (for
example ANG, BGN, HRK, SLL, ZWL) are absent; their successors (XCG, EUR, SLE, ZWG) are present.
"""

__all__ = ["ISO_4217"]

ISO_4217: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR
    MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD
    RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP
    TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW
    ZWG
    """.split()  # noqa: SIM905 (a word list reads better than 155 quoted items)
)
