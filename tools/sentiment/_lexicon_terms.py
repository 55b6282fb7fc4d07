"""The finance lexicon's word lists (written for Tiller; not derived from a licensed list).

A word ending in ``*`` matches every token that starts with it. Hyphenated words are one
token; the phrase rules in ``PHRASES`` rewrite multi-word expressions into single tokens
(with hyphens) before the lists are consulted, so each list may name those tokens too.
"""

from __future__ import annotations

import re


def words(block: str) -> tuple[str, ...]:
    return tuple(block.split())


# --- phrases, applied in order to the lower-cased text --------------------------------
PHRASES: tuple[tuple[str, str], ...] = (
    # Boilerplate that mentions a tone word without carrying tone.
    (r"forward[- ]looking statements?", " "),
    (r"risks and uncertainties|risk factors", " "),
    (r"declined to comment|no obligation to update", " "),
    (r"in line with|little changed|per share|lower of cost or", " "),
    (r"tested for impairment|impairment test(?:s|ing)?", " "),
    (r"allowance for (?:credit|loan|doubtful) (?:losses|accounts)|loss experience", " "),
    (r"(?:quarter|period|year|weeks?|months?|days?) end(?:ed|ing|s)", " period "),
    (r"(?:in|of|since|until|by|from|early|late|mid-?)\s+may|may (?=\d)", " month "),
    (r"(?:could|would|can|may|might) not", " not "),
    (r"(?:weaker|stronger|strong|weak) (?:yen|dollar|euro|pound|currency|yuan|won|franc)", " fx "),
    (r"frozen (?:food|foods|meals?|goods|desserts|vegetables)", " food "),
    (
        r"competition (?:authority|authorities|regulators?|watchdog|commission|bureau)",
        " regulator ",
    ),
    (r"\b(?:is|are|be|remains?) subject to\b", " may "),
    # Expectation gaps: the comparison decides the tone, not the verb.
    (r"not (?:as|so) bad as (?:\w+ ){0,2}(?:feared|expected)", " better-than-feared "),
    (r"(?:less|smaller|lower|milder) than (?:\w+ ){0,2}feared", " better-than-feared "),
    (r"(?:more|larger|bigger|greater|worse) than (?:\w+ ){0,2}feared", " worse-than-expected "),
    (
        r"(?:better|stronger) than (?:\w+ ){0,2}(?:expected|forecast|estimated|anticipated)",
        " better-than-expected ",
    ),
    (
        r"(?:worse|weaker) than (?:\w+ ){0,2}(?:expected|forecast|estimated|anticipated)",
        " worse-than-expected ",
    ),
    (
        r"(?:ahead of|above) (?:\S+ ){0,3}"
        r"(?:expectations|estimates|consensus|forecasts?|plan|schedule|targets?)",
        " beat ",
    ),
    (
        r"(?:below|short of) (?:\S+ ){0,3}(?:expectations|estimates|consensus|forecasts?|plan)",
        " miss ",
    ),
    (r"fell short|came up short|short of", " miss "),
    (r"fell through", " collapsed "),
    (r"(?:top|upper|high) end of", " upper-end "),
    (r"(?:bottom|low|lower) end of", " lower-end "),
    (r"(?:worst|bottom) (?:\S+ ){0,5}(?:is|are|was) (?:\S+ )?(?:behind|over|past)", " recovery "),
    (r"(?:moved|cut|lowered|downgraded) (?:\S+ ){0,3}to sell", " downgrade "),
    (r"(?:writes?|wrote|writing) (?:down|off)", " writedown "),
    (
        r"(?:piled|piling|pile|piles) up|(?:come|comes|came|coming|gone|went) up|up from",
        " increased ",
    ),
    (r"(?:come|comes|came|coming|gone|went) down|down from", " decreased "),
    (r"never been (?:\S+ )?(?:stronger|better|healthier|higher)", " best "),
    (
        r"dropp(?:ed|ing)? (?:its |the |all )?(?:case|charges|lawsuit|suit|probe|investigation)",
        " dismissed lawsuit ",
    ),
    (r"complete response letter", " reject "),
    (r"walk(?:ed|s|ing)? away", " collapsed "),
    (r"(?:beyond|over) (?:\S+ ){0,2}budget|overspen\w*", " overrun "),
    (r"add (?:\S+ )?to earnings", " accretive "),
    (r"up (?=\d)", " increased "),
    (r"down (?=\d)", " decreased "),
    (r"not (?:nearly )?enough", " not-enough "),
    (r"no longer", " not "),
    # Fixed expressions.
    (r"(?:record|all-time|multi-year|\d+-(?:year|week|month)) highs?", " record-high "),
    (r"(?:record|all-time|multi-year|\d+-(?:year|week|month)) lows?", " record-low "),
    (r"(?:lay|lays|laid|laying) off|job cuts|job losses", " layoff "),
    (r"cost[- ](?:cuts|cutting|savings|reductions?)|efficiency (?:drive|program)", " savings "),
    (r"rate cuts?", " rate-cut "),
    (r"rate (?:hikes?|rises)", " rate-hike "),
    (r"sell-?off|sold off|selling pressure", " selloff "),
    (r"profit warning|warns? on profits?", " profit-warning "),
    (r"going concern|substantial doubt", " going-concern "),
    (r"material weakness(?:es)?", " material-weakness "),
    (r"class action|short seller|rug pull", " scandal "),
    (r"bad loans?|non-?performing loans?", " bad-loans "),
    (r"beats? and raises?", " beat-and-raise "),
    (r"(?:return(?:s|ed)?|back) to (?:growth|profitability|profit)", " return-to-growth "),
    (r"swung to a (?:net )?profit|turned profitable", " return-to-growth "),
    (r"swung to a (?:net )?loss|turned negative", " turned-negative "),
    (r"special dividend|share buyback", " buyback "),
    (r"market share", " market-share "),
    (r"cash flow", " cash-flow "),
    (r"pick(?:ed|s|ing)? up|stepped up|ramped up", " increased "),
    # Hedged obligations state a direction: "may have to close", "may need to raise capital".
    (r"(?:may|might|could|would) (?:\S+ )?(?:have|need|be forced|be required) to", " must "),
    (r"weigh(?:s|ed|ing)? (?:heavily )?on", " hurt "),
    # Comparisons with the market or peers decide the tone, not the verb before them:
    # "sales fell 1%, less than the market's 5% decline" is good news.
    (
        r"(?:less|smaller|milder|slower) than (?:\S+ ){0,4}(?:declines?|drops?|falls?|"
        r"contractions?|decreases?)",
        " beat-peers ",
    ),
    (
        r"(?:lag|lags|lagged|lagging|trail|trails|trailed|trailing|behind) (?:\S+ ){0,4}"
        r"(?:growth|rise|increase|gains?)",
        " lagged-peers ",
    ),
    (
        r"(?:(?:grew|grown|grows|grow|growing|rose|risen|increased) )?(?:more slowly|slower|"
        r"less) than (?:the |its |their )?(?:overall |wider |broader )?(?:market|markets|"
        r"peers|rivals|competitors|industry|sector)(?!')",
        " lagged-peers ",
    ),
    (
        r"(?:(?:grew|grown|grows|grow|growing|rose|risen|increased) )?(?:faster|more) than "
        r"(?:the |its |their )?(?:overall |wider |broader )?(?:market|markets|peers|rivals|"
        r"competitors|industry|sector)(?!')",
        " beat-peers ",
    ),
    (r"(?:fell|falling|fallen|lagged|lags|lagging) behind", " lagged-peers "),
    (r"(?:lowest|low)-cost", " cost-leader "),
    (r"(?:closed|opened|ended|finished) at (?=(?:\S+ )?\d)", " at "),
    (r"approved the (?:financial statements|annual accounts|accounts|minutes|agenda)", " "),
    (
        r"(?:received|receives|signed|signs|booked|books|secured|secures|landed|lands) "
        r"(?:\S+ ){0,4}(?:order|orders|contract|contracts|charter|agreement)",
        " new-business ",
    ),
    (r"creat(?:e|es|ed|ing) (?:\S+ ){0,2}(?:new )?jobs", " new-business "),
    (r"hit (?:by|with|hard)", " hurt "),
    (r"wip(?:ed|es|ing) out", " wiped-out "),
)


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regular expression."""
    parts, depth, current, i = [], 0, "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            current, i = current + pattern[i : i + 2], i + 2
            continue
        depth += (c == "(") - (c == ")")
        if c == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += c
        i += 1
    return [*parts, current]


def _anchor(alternative: str) -> str | None:
    """The longest literal every match of ``alternative`` contains (None if unsure)."""
    runs, current, depth = [], "", 0
    for i, c in enumerate(alternative):
        following = alternative[i + 1 : i + 2]
        if alternative[i - 1 : i] == "\\" or c == "\\":
            runs.append(current)
            current = ""
        elif c in "([)]":
            depth += 1 if c in "([" else -1
            runs.append(current)
            current = ""
        elif depth == 0 and (c.isalnum() or c in " -'") and not (following and following in "?*{"):
            current += c
        else:
            runs.append(current)
            current = ""
    runs = [r.strip() for r in [*runs, current] if len(r.strip()) >= 3]
    return max(runs, key=len) if runs else None


def _anchors(pattern: str) -> tuple[str, ...] | None:
    """Substrings one of which every match contains; None: always run the pattern.
    Skipping a pattern whose anchors are absent is what makes the lexicon fast."""
    anchors = [_anchor(a) for a in _alternatives(pattern)]
    return None if None in anchors else tuple(a for a in anchors if a)


COMPILED_PHRASES = tuple((_anchors(p), re.compile(rf"\b(?:{p})\b"), r) for p, r in PHRASES)

# --- tone words: weight > 0 ------------------------------------------------------------
_POSITIVE_STRONG = words("""
    better-than-expected better-than-feared beat-and-raise return-to-growth breakthrough blowout
    beat-peers
""")
_POSITIVE_PLAIN = words("""
    beat beats beating topped tops exceed* surpass* outpac* outperform* overweight upgrad*
    robust strong stronger strongest improv* recover* rebound* upbeat optimis* bullish accretive
    profitable win wins winning won award* approv* clearance cleared tailwind* resilien* healthy
    favorable favourable success* upside buyback* repurchas* savings oversubscribed regain*
    reassur* cheer* rate-cut best strengthen*
""")
_POSITIVE_MILD = words("""
    solid momentum milestone premium secured secures positive profitability efficien* compliance
    confident listing benefit* selected lands landed rich preorders synerg* resum* reimburs*
    upper-end new-business cost-leader authoris* authoriz*
""")
_NEGATIVE_STRONG = words("""
    bankrupt* insolven* fraud* going-concern material-weakness profit-warning scandal
    worse-than-expected turned-negative delist* restat* lagged-peers
""")
_NEGATIVE_PLAIN = words("""
    miss misses missed missing weak weaker weakest weakness weaken* downgrad* lawsuit* sue sued
    sues suing probe probes investigat* subpoena* fined penalt* hack hacked hacker* hacks
    hacking exploit* breach* stolen theft drain* delay* recall* halt* suspend* suspension warn*
    impair* writedown* write-down* write-off* layoff* headwind* shortfall* disappoint* slowdown*
    recession* bearish selloff underperform* underweight alleg* accus* irregularit* violat*
    damages outage* fail failed fails failing failure* flop* reject* blocked raid* closure*
    shutdown shut shuts shutting shortage* disrupt* strike strikes lost loses lose losing
    liquidat* frozen freez* depeg* turmoil downturn* advers* harm* deteriorat* pessimis*
    dilution dilutive overhang default defaults defaulted loss losses deficit* overrun* grounded
    flood* bad-loans unfavorable unfavourable ransomware cyberattack* not-enough hurt wiped-out
    rate-hike junk worst negative terminat* redundanc* lag lags lagged lagging trail trails
    trailed trailing
""")
_NEGATIVE_MILD = words("""
    concern* fear* worr* resign* tariff* fire fine paus* volatil* pressure* challeng* difficult*
    lack* charge charges unable abrupt* departed departs departure departing scrutiny threat*
    problem* stall* outflows burned burning lower-end dented offline attack* impacted souring
    soured
""")

POSITIVE: dict[str, float] = {
    **dict.fromkeys(_POSITIVE_STRONG, 1.5),
    **dict.fromkeys(_POSITIVE_PLAIN, 1.0),
    **dict.fromkeys(_POSITIVE_MILD, 0.6),
    **dict.fromkeys(words("profit profits growth inflows opportunit*"), 0.4),
}
NEGATIVE: dict[str, float] = {
    **dict.fromkeys(_NEGATIVE_STRONG, 1.5),
    **dict.fromkeys(_NEGATIVE_PLAIN, 1.0),
    **dict.fromkeys(_NEGATIVE_MILD, 0.6),
    **dict.fromkeys(words("risk risks competition uncertain*"), 0.3),
}

# --- quantities: no tone alone; their sign decides what a direction word means ---------
GOOD_THINGS = words("""
    revenue revenues sales earnings income margin margins eps guidance outlook forecast
    forecasts dividend dividends demand orders bookings backlog share shares stock stocks
    target rating ratings volume volumes cash-flow users subscribers traffic production
    output occupancy assets confidence sentiment gdp payrolls jobs employment headcount
    value valuation estimates productivity liquidity capital performance activity funding
    ebitda market-share customers market index profit profits profitability growth inflows
    savings momentum
""")  # fmt: skip
BAD_THINGS = words("""
    cost costs expense expenses debt leverage borrowings inflation unemployment jobless
    delinquenc* churn claims inventory inventories outflows redemptions provisions rate
    rates yields burn complaints loss losses deficit* fear* concern* worr* risk risks
    pressure* uncertain* volatil* default defaults impairment* writedown* shortfall*
    headwind* charge charges layoff* bad-loans tariff* overrun* shortage* cost-to-income
    loan-to-value
""")  # fmt: skip

# --- direction words: their sign, and their own weight when nothing is attached ------
UP = words("""
    rose rise rises rising risen increas* grew grow grows growing jump* climb* gain gains
    gained gaining surge surged surges surging soar* rally rallied rallies rallying spike
    spiked spikes spiking boost* lift* raise raised raises raising hike hiked hikes higher
    highest expand* widen* doubl* tripl* accelerat* added swell* balloon* renewed record-high
    record high above elevated
""")  # fmt: skip
DOWN = words("""
    fell fall falls falling fallen declin* decreas* drop dropped dropping drops dip dipped
    dips slid slide slides sliding sank sink sinks sinking plung* tumbl* slump* lower
    lowered lowering lowest cut cuts cutting slash* reduc* narrowed narrowing narrows
    narrower shrank shrink* shrunk erase* erasing lighter moderated moderating moderates
    contracted contracting contraction eased eases easing cool* slow slowed slowing slower
    halved shed sheds shedding erod* trim* squeez* compress* dwindl* record-low low
    below crash* collaps*
""")  # fmt: skip
# Verbs that only mean something when they act on a bad thing ("dismissed the lawsuit").
RESOLVE = words("""
    dismiss* overturn* resolv* avoid* remov* ended ending settled settles settling withdrew closed
    withdraws withdrawn
""")  # fmt: skip
# Transitive verbs look for their object first: "cut operating expenses".
TRANSITIVE = words("""
    cut cuts cutting rais* lower lowered lowering reduc* lift* boost* slash* trim* hike*
    hiked squeez* shed sheds shedding erase* erasing
""")  # fmt: skip
STRONG_DIRECTIONS = words("""
    soar* plung* tumbl* slump* surge surged surges surging slash* record-high record-low crash*
    collaps*
""")  # fmt: skip
# "record revenue" is good and "record losses" bad, but "a record" alone leans positive.
# Directions with no tone of their own: only what they act on counts.
ZERO_DIRECTIONS = words("above below renewed")
WEAK_DIRECTIONS = words("""
    record renewed eased eases easing added above below raise raised raises raising cut cuts
    cutting lower lowered lowering reduc* trim* elevated moderat*
""")  # fmt: skip

NEGATORS = words("not no never without nor neither cannot fail failed fails failing unable")
INTENSIFIERS = words("""
    sharply significantly substantially strongly dramatically markedly considerably massive
    massively huge steep steeply sharp deep deeply heavily heavy severe severely biggest
    largest very extremely far well fastest double-digit
""")  # fmt: skip
DIMINISHERS = words("""
    slightly slight modest modestly marginal marginally somewhat mild mildly small minor
    partially partly
""")  # fmt: skip
HEDGES = words("may might could would if whether potential potentially possible possibly")
CONTRASTS = words("but however yet nevertheless nonetheless")
CONCESSIVES = words("despite although though notwithstanding")
# Skipped when measuring distances, so "losses from the legacy unit were lower" attaches.
STOPWORDS = frozenset(words("""
    the a an of its their our his her this that these those from were was is are be been
    being to in on for by at as and with it they we has have had will than which who
"""))  # fmt: skip
