"""The step verifier against hand-made candidates."""

from backend.verify import hard_violations, material_matches, ruled_out, split_steps, verify_step, verify_steps
from tests.fixtures.small import ITEMS

BY_ID = {i["item_id"]: i for i in ITEMS}
HANDLES = {"K7": BY_ID["i-scarf"], "B2": BY_ID["i-tote"], "M4": BY_ID["i-boot"]}
SUMMER_SILK = {"categories": ["category_group=silk"], "contexts": [{"climate": "hot", "season": "summer"}],
               "must_not": []}


def test_steps_are_split_on_numbers_or_lines():
    assert split_steps("1. First.\n2) Second\nstill second.\nStep 3: Third") == [
        "First.", "Second\nstill second.", "Third"]
    assert split_steps("one\n\ntwo") == ["one", "two"]
    assert split_steps("  ") == []


def test_material_families():
    assert material_matches("silk", ["silk twill"]) and material_matches("leather", ["calfskin"])
    assert not material_matches("silk", ["calfskin"]) and not material_matches("gold", ["goldstone"])


def test_hard_violations_name_every_broken_condition():
    assert hard_violations(BY_ID["i-scarf"], SUMMER_SILK) == []
    broken = hard_violations(BY_ID["i-boot"], {**SUMMER_SILK, "budget_max": 500.0, "houses": ["brand=aurel"],
                                               "must_not": ["material=suede", "shearling"]})
    assert broken == ["not silk", "not by aurel", "980 is over the 500 budget", "suede, which was ruled out",
                      "shearling, which was ruled out"]
    # what a context implies (a summer season, rain) is a soft wish: it never makes an item break the request
    assert hard_violations(BY_ID["i-boot"], {"wet": True, "contexts": SUMMER_SILK["contexts"]}) == []


def test_a_step_that_misstates_a_catalogue_fact_is_inconsistent():
    check = verify_step(1, "B2 is in silk and perfect for summer.", HANDLES, {"must_not": {}})
    assert check.verdict == "inconsistent"
    assert check.problems[0] == "B2 is not silk (catalogue: material calfskin)"
    assert check.items == ["i-tote"]


def test_promoting_an_item_that_breaks_the_request_is_inconsistent():
    check = verify_step(2, "M4 is the best choice.", HANDLES, SUMMER_SILK)
    assert check.verdict == "inconsistent" and "breaks the request" in check.problems[0]


def test_promoting_what_the_client_dislikes_is_inconsistent():
    check = verify_step(1, "K7 is a great pick.", HANDLES, SUMMER_SILK, preferences={"colour=yellow": -1.5})
    assert check.problems == ["promotes K7, but the client dislikes colour=yellow"]


def test_true_claims_are_consistent_and_empty_ones_unchecked():
    checks = verify_steps(["K7 is silk, ideal for summer.", "Let me think about the request."], HANDLES,
                          SUMMER_SILK)
    assert [c.verdict for c in checks] == ["consistent", "unchecked"]
    assert "K7 is silk" in checks[0].support


def test_a_step_that_restates_the_request_is_consistent_only_when_it_says_what_was_asked():
    query = {"categories": ["category_group=silk"], "contexts": [{"season": "summer"}], "must_not": [],
             "wishes": [{"phrase": "yellow", "weight": 1.0, "matches": {"colour=yellow": 0.9}}]}
    assert verify_step(1, "Needs: silk, yellow, summer.", HANDLES, query).verdict == "consistent"
    assert verify_step(1, "Needs: silk, calfskin.", HANDLES, query).verdict == "unchecked"  # calfskin not asked


def test_ungrounded_claims_are_those_the_prompt_never_showed():
    prompt = "Candidates:\nK7: Aurel, scarf, silk, 420\nB2: Vell, tote, 1,200"
    checks = verify_steps(["K7 fits best: silk.", "Z9 fits too.", "B2 is calfskin."], HANDLES, {}, prompt=prompt)
    assert [c.ungrounded for c in checks] == [[], ["handle Z9"], ["value calfskin"]]


def test_a_step_about_several_candidates_is_checked_clause_by_clause():
    handles = {**HANDLES, "W1": BY_ID["i-watch"]}
    # the template's third step: promoted ones fit, rejected ones do break the request
    check = verify_step(3, "K7 also fits; M4 and W1 are out: not silk.", handles, SUMMER_SILK)
    assert check.verdict == "consistent"
    assert "K7 fits the request" in check.support
    assert any(s.startswith("M4 is rightly out") for s in check.support)
    assert any(s.startswith("W1 is rightly out") for s in check.support)
    # promoting a candidate that breaks the request is caught in its own clause
    check = verify_step(3, "K7 and M4 also fit. B2 is out: not silk.", handles, SUMMER_SILK)
    assert check.verdict == "inconsistent"
    assert check.problems == ["promotes M4, which breaks the request: not silk"]
    # each value is held against the nearest handle before it
    check = verify_step(2, "K7 is in silk; M4 is in silk too.", handles, {})
    assert check.verdict == "inconsistent" and check.problems[0].startswith("M4 is not silk")
    assert "K7 is silk" in check.support
    # a rejection whose reason the catalogue cannot confirm is neither right nor wrong
    assert verify_step(3, "K7 and B2 are out: too formal.", handles, {}).verdict == "unchecked"
    assert verify_step(2, "K7 fits; Z9 fits too.", handles, SUMMER_SILK).verdict == "consistent"


def test_ruled_out_lists_the_candidates_a_step_rejects():
    steps = split_steps("1. Needs: a silk scarf.\n2. B2 and M4 are out: not a scarf.\n3. K7 fits.")
    assert ruled_out(steps, HANDLES) == ["B2", "M4"]
    assert ruled_out(["M4 is not a fit; K7 is the best pick."], HANDLES) == ["M4"]
    # praise that holds "out", and a mixed clause, rule nothing out
    assert ruled_out(["K7 stands out.", "B2 fits the budget but is not silk."], HANDLES) == []
    assert ruled_out(["Nothing here is out."], HANDLES) == []  # no candidate named
