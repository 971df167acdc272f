"""The ablation harness: variant configs, the seeded variant runs, the task runner and the report's verdict."""

import json
import sys
from pathlib import Path

import pytest

from training.ablation import (VARIANTS, Plan, Task, build_tasks, claim_verdict, deep_merge, report_markdown,
                               resolve_command, run_tasks, seed_variant_run, servable, variant_rows)
from training.config import load_config

CONFIG = Path(__file__).resolve().parents[2] / "training" / "configs" / "ablation-cpu.yaml"


def plan_in(tmp_path: Path) -> Plan:
    return Plan(tmp_path / "bundle", CONFIG, tmp_path / "out", eval_queries=3, probe_limit=2, max_new_tokens=32)


def test_deep_merge_changes_only_the_named_keys():
    base = {"reward": {"qas": 0.1, "pas": 0.05}, "raae": {"enabled": True}, "seed": 0}
    merged = deep_merge(base, {"reward": {"qas": 0.0}, "stages": ["grpo"]})
    assert merged == {"reward": {"qas": 0.0, "pas": 0.05}, "raae": {"enabled": True}, "seed": 0, "stages": ["grpo"]}
    assert base["reward"]["qas"] == 0.1  # the input is not changed


def test_every_grpo_variant_gets_its_config_and_the_shared_sft_adapter(tmp_path):
    plan = plan_in(tmp_path)
    sft = plan.run_dir("sft")
    sft.mkdir(parents=True)
    (sft / "run.json").write_text(json.dumps({"status": "finished", "results": {
        "traces": {"path": str(sft / "traces" / "traces.jsonl"), "finished": True},
        "sft": {"adapter": str(sft / "sft" / "adapter"), "finished": True}}}))
    head = plan.run_dir("rechead")
    head.mkdir(parents=True)
    (head / "run.json").write_text(json.dumps({"status": "finished", "results": {
        "rechead": {"head": str(head / "rechead-stage" / "rechead"), "finished": True}}}))
    shared = load_config(CONFIG)
    grpo_variants = [v for v in VARIANTS if v.kind == "grpo"]
    assert len(grpo_variants) == 18
    for v in grpo_variants:
        seed_variant_run(plan, v)
        config = load_config(plan.run_dir(v.name) / "config.yaml")
        record = json.loads((plan.run_dir(v.name) / "run.json").read_text())
        assert record["results"]["sft"]["adapter"] == str(sft / "sft" / "adapter")
        assert config.stages[-1] == "grpo" and config.grpo.max_steps == shared.grpo.max_steps  # same budget
        assert ("rechead" in record["results"]) == v.rechead_reward == ("rechead" in config.stages)
    by_name = {v.name: load_config(plan.run_dir(v.name) / "config.yaml") for v in grpo_variants}
    assert by_name["rerec"].raae.enabled and by_name["rerec"].curriculum.enabled and by_name["rerec"].reward.qas > 0
    assert not by_name["no-raae"].raae.enabled and by_name["no-raae"].reward.qas == shared.reward.qas
    assert by_name["no-qas"].reward.qas == 0.0 and by_name["no-qas"].reward.pas == shared.reward.pas
    assert by_name["no-pas"].reward.pas == 0.0 and by_name["no-pas"].reward.qas == shared.reward.qas
    assert not by_name["no-curriculum"].curriculum.enabled and by_name["no-curriculum"].raae.enabled
    plain = by_name["plain-grpo"]
    assert (plain.reward.qas, plain.reward.pas, plain.reward.format, plain.reward.missing_answer) == (0, 0, 0, 0)
    assert not plain.raae.enabled and not plain.curriculum.enabled and plain.reward.ndcg == 1.0
    assert by_name["rerec-rechead"].reward.rechead > 0
    consistent = by_name["rerec-consistent"]
    assert consistent.reward.consistency > 0 and consistent.reward.extra_pick > 0
    assert by_name["rerec"].reward.consistency == by_name["rerec"].reward.extra_pick == 0.0
    assert consistent.reward.qas == shared.reward.qas and consistent.raae.enabled
    gain = by_name["rerec-gain"]
    assert (gain.reward.ranking, gain.reward.format_steps) == ("gain", [2, 3])
    assert (by_name["rerec"].reward.ranking, by_name["rerec"].reward.format_steps) == ("picks", [])
    ranked = by_name["rerec-gain-ranked"]  # the gain variant's reward, the ranker's order
    assert ranked.data.order == "ranker" and ranked.reward == gain.reward
    assert by_name["plain-grpo-ranked"].reward == plain.reward and by_name["plain-grpo-ranked"].data.order == "ranker"
    assert by_name["rerec-gain"].data.order == "shuffled"
    hard = by_name["rerec-gain-hard"]  # the same reward, cross-fitted order, hard cases mixed in
    assert hard.reward == gain.reward and hard.data.order == "ranker" and hard.data.ranker_folds == 5
    assert hard.data.hard_share == 0.3 and hard.data.max_cases is None and ranked.data.ranker_folds == 1
    # the components at the same budget: each differs from the ranked recipe in its one setting alone
    def changed(name):  # (section, key) pairs of the config that differ; (key, None) for a top-level value
        mine, recipe, out = by_name[name].to_dict(), ranked.to_dict(), set()
        for section, value in mine.items():
            if isinstance(value, dict):
                out |= {(section, key) for key in value if value[key] != recipe[section].get(key)}
            elif value != recipe[section]:
                out.add((section, None))
        return out

    assert changed("no-raae-ranked") == {("raae", "enabled")}
    assert changed("no-qas-ranked") == {("reward", "qas")} and by_name["no-qas-ranked"].reward.qas == 0.0
    assert changed("no-pas-ranked") == {("reward", "pas")} and by_name["no-pas-ranked"].reward.pas == 0.0
    assert changed("no-curriculum-ranked") == {("curriculum", "enabled")}
    assert changed("rerec-rechead-ranked") == {("reward", "rechead"), ("stages", None)}  # + the head's stage
    assert by_name["rerec-rechead-ranked"].reward.rechead > 0 and ranked.reward.rechead == 0
    assert [v.name for v in grpo_variants if v.rechead_reward] == ["rerec-rechead", "rerec-rechead-ranked"]
    assert changed("rerec-gain-ranked-kl") == {("grpo", "beta")} and by_name["rerec-gain-ranked-kl"].grpo.beta == 0.04


def test_ranked_variants_are_evaluated_in_the_rankers_order_and_share_their_models_probes(tmp_path):
    plan = plan_in(tmp_path)
    by_name = {v.name: v for v in VARIANTS}
    assert plan.system(by_name["zero-shot-ranked"]) == "ranked-reasoner"
    assert plan.system(by_name["zero-shot"]) == "reasoner"
    assert plan.system(by_name["sft-ranked"]) == f"ranked-reasoner@{plan.run_dir('sft') / 'adapter'}"
    assert plan.system(by_name["rerec-gain-ranked"]).endswith("rerec-gain-ranked/adapter")
    tasks = {t.name: t for t in build_tasks(plan)}
    assert "probes zero-shot-ranked" not in tasks and "probes sft-ranked" not in tasks  # same models
    assert "probes rerec-gain-ranked" in tasks and tasks["eval sft-ranked"].needs == ["train sft"]
    probes = [t.name for t in build_tasks(plan, tuple(v for v in VARIANTS if v.name == "sft-ranked"))]
    assert probes.count("probes sft") == 1  # run once even when only the ranked row is chosen
    assert servable(by_name["rerec"]) and servable(by_name["zero-shot"])
    assert not servable(by_name["rerec-gain-ranked"]) and not servable(by_name["rechead"])


def test_the_task_graph_waits_for_what_each_task_needs(tmp_path):
    tasks = {t.name: t for t in build_tasks(plan_in(tmp_path))}
    assert tasks["train rerec"].needs == ["train sft"]
    assert tasks["train rerec-rechead"].needs == ["train sft", "train rechead"]
    assert tasks["eval rerec"].needs == ["train rerec"] and tasks["eval zero-shot"].needs == []
    assert tasks["eval rechead"].needs == ["train rechead"] and "probes rechead" not in tasks
    assert "--llm-limit" in tasks["eval sft"].command and "3" in tasks["eval sft"].command
    assert tasks["eval sft"].env == {"CONCIERGE_MAX_NEW_TOKENS": "32"}


def _writer(path: Path, code: int = 0) -> list[str]:
    return [sys.executable, "-c", f"import pathlib, sys; pathlib.Path({str(path)!r}).write_text('x'); sys.exit({code})"]


def test_run_tasks_orders_skips_and_reports_failures(tmp_path):
    plan = plan_in(tmp_path)
    a, b, c, d = (tmp_path / f"{n}.done" for n in "abcd")
    order = tmp_path / "order.txt"
    log_b = [sys.executable, "-c", f"import pathlib; p = pathlib.Path({str(order)!r}); "
             f"assert pathlib.Path({str(a)!r}).is_file(); p.write_text('b'); pathlib.Path({str(b)!r}).write_text('x')"]
    tasks = [Task("b", log_b, b, needs=["a"]), Task("a", _writer(a), a),
             Task("c", _writer(c, code=3), c), Task("d", _writer(d), d, needs=["c"])]
    status = run_tasks(plan, tasks, jobs=2, progress=False)
    assert status["a"] == status["b"] == "done" and order.read_text() == "b"
    assert status["c"].startswith("failed (exit 3") and status["d"].startswith("skipped (c")
    assert not d.exists() and (plan.out / "logs" / "c.log").is_file()
    # a rerun does not start what is done
    b.write_text("kept")
    assert run_tasks(plan, tasks[:2], jobs=1, progress=False) == {"a": "done", "b": "done"}
    assert b.read_text() == "kept"


def test_a_task_another_invocation_runs_is_awaited_not_started_twice(tmp_path):
    import subprocess

    plan = plan_in(tmp_path)
    marker, starts = tmp_path / "e.done", tmp_path / "starts.txt"
    other = subprocess.Popen([sys.executable, "-c", f"import pathlib, time; time.sleep(3); "
                              f"pathlib.Path({str(marker)!r}).write_text('other')"])
    (plan.out / "logs").mkdir(parents=True)
    (plan.out / "logs" / "e.pid").write_text(str(other.pid))
    count = [sys.executable, "-c", f"open({str(starts)!r}, 'a').write('x')"]
    status = run_tasks(plan, [Task("e", count, marker), Task("f", _writer(tmp_path / "f.done"), tmp_path / "f.done",
                                                               needs=["e"])], jobs=2, progress=False)
    other.wait()
    assert status == {"e": "done", "f": "done"} and marker.read_text() == "other" and not starts.exists()


def _result(scores: list[float]) -> dict:
    """An evaluation results.json with these per-query NDCG@5 values (other metrics alike)."""
    per_query = [{"query_id": f"q{i}", "type": "explicit", "scores": {m: s for m in ("ndcg@5", "ndcg@10", "recall@5",
                                                                                      "hit@1")},
                  "notes": {"picks": 1 if s > 0.5 else 0, "answer_found": s > 0.5}} for i, s in enumerate(scores)]
    mean = sum(scores) / len(scores)
    interval = {"mean": mean, "low": min(scores), "high": max(scores)}
    return {"results": {"rerank": {"sys": {"metrics": {m: interval for m in ("ndcg@5", "ndcg@10", "recall@5", "hit@1")},
                                           "per_query": per_query}}}}


def test_the_claim_is_computed_from_the_results(tmp_path):
    plan = plan_in(tmp_path)
    scores = {"zero-shot": [0.1, 0.2, 0.3], "plain-grpo": [0.5, 0.6, 0.7], "rerec": [0.8, 0.9, 0.85],
              "sft": [0.4, 0.45, 0.5]}
    for name, values in scores.items():
        plan.eval_dir(name).mkdir(parents=True)
        (plan.eval_dir(name) / "results.json").write_text(json.dumps(_result(values)))
    plan.probes_file("x").parent.mkdir(parents=True)
    for name, (following, knowledge) in {"zero-shot": (0.4, 0.8), "plain-grpo": (0.4, 0.8), "rerec": (0.39, 0.8)}.items():
        plan.probes_file(name).write_text(json.dumps({"instruction_following": following, "knowledge_contains": knowledge}))
    plan.run_dir("rerec").mkdir(parents=True)
    (plan.run_dir("rerec") / "metrics.jsonl").write_text("".join(json.dumps(
        {"stage": "grpo", "step": n, "seconds": 60.0 + n, "reward": r, "completions/mean_length": length,
         "completions/clipped_ratio": cut}) + "\n" for n, r, length, cut in ((1, 0.4, 120, 0.0), (2, -0.5, 160, 1.0))))
    rows = variant_rows(plan)
    assert rows["rerec"]["training"]["grpo"] == {
        "seconds": None, "steps": 2, "step_s": 61.5, "reward_first": 0.4, "reward_last": -0.5, "reward_mean": -0.05,
        "length_first": 120, "length_last": 160, "clipped_mean": 0.5}
    verdict = "\n".join(claim_verdict(rows))
    assert "interval clear of zero-shot's: **yes**" in verdict and "rerec probes within 5%" in verdict
    assert "The claim **holds**" in verdict
    # a candidate that forgets more than 5% of the base model's instruction following breaks the claim
    plan.probes_file("rerec").write_text(json.dumps({"instruction_following": 0.37, "knowledge_contains": 0.8}))
    assert "The claim **does not hold**" in "\n".join(claim_verdict(variant_rows(plan)))
    report = report_markdown(plan, variant_rows(plan), {"eval no-qas": "failed (exit 1)"}, None)
    assert "| ReRec full | 0.850 [0.800, 0.900]" in report and "rerec − plain-grpo (n=3) | +0.250" in report
    assert "| ReRec without QAS | not evaluated (failed (exit 1))" in report
    # a ranked row, however good, is not the pipeline's model: serving lists the candidates shuffled
    from training.ablation import best_variant

    plan.eval_dir("rerec-gain-ranked").mkdir(parents=True)
    (plan.eval_dir("rerec-gain-ranked") / "results.json").write_text(json.dumps(_result([0.95, 0.96, 0.97])))
    assert best_variant(plan).name == "rerec"
    ranked = "\n".join(claim_verdict(variant_rows(plan), ("zero-shot-ranked", "plain-grpo-ranked", "rerec-gain-ranked")))
    assert "cannot be checked" in ranked and "zero-shot-ranked" in ranked
    assert "2/3" not in report.split("| SFT only")[0] and "| 3/3 |" in report  # valid answers of ReRec full
    assert "Whole-catalogue protocol" not in report  # not run yet
    task = next(t for t in build_tasks(plan) if t.name == "eval full-catalogue")
    command = resolve_command(plan, task)  # the best re-ranker's model answers in the whole pipeline
    assert f"pipeline@{plan.run_dir('rerec') / 'adapter'},bm25,retrieval" in command
    full = _result([0.6, 0.7, 0.8])["results"]["rerank"]["sys"]
    plan.eval_dir("full-catalogue").mkdir(parents=True)
    (plan.eval_dir("full-catalogue") / "results.json").write_text(json.dumps({"results": {"full": {
        "pipeline@x/rerec/adapter": full, "retrieval": _result([0.5, 0.7, 0.6])["results"]["rerank"]["sys"]}}}))
    report = report_markdown(plan, variant_rows(plan), {}, None)
    assert "| pipeline@x/rerec/adapter | 0.700 [0.600, 0.800]" in report
    assert "| pipeline − retrieval (n=3) | +0.100" in report
    assert "| ReRec full | 2 | 0.0 min | 61.5 | 0.400 | -0.500 | -0.050 | 120 → 160 | 50% |" in report


def test_missing_results_leave_the_claim_unchecked(tmp_path):
    plan = plan_in(tmp_path)
    assert "cannot be checked" in claim_verdict(variant_rows(plan))[0]
    for name, values in {"zero-shot": [0.1, 0.2], "plain-grpo": [0.5, 0.6], "rerec": [0.8, 0.9]}.items():
        plan.eval_dir(name).mkdir(parents=True)
        (plan.eval_dir(name) / "results.json").write_text(json.dumps(_result(values)))
    verdict = "\n".join(claim_verdict(variant_rows(plan)))  # better rankings, but nobody probed the models
    assert "rerec probes within 5% of the base model (not measured): **no**" in verdict
    assert "The claim **does not hold**" in verdict


def test_a_subset_of_variants_runs_only_what_it_needs_and_shares_a_finished_sft_run(tmp_path):
    import json

    from catalog.errors import ConciergeError
    from training.ablation import select_variants, share_sft_run

    chosen = select_variants("rerec, plain-grpo")
    assert [v.name for v in chosen] == ["plain-grpo", "rerec"]  # the table's order
    with pytest.raises(ConciergeError, match="unknown variant"):
        select_variants("rerec,nope")
    plan = Plan(tmp_path / "bundle", CONFIG, tmp_path / "out", 10, 5, 160)
    names = {t.name for t in build_tasks(plan, chosen)}
    assert "train rechead" not in names and {"train plain-grpo", "train rerec", "train sft"} <= names
    assert "train rechead" in {t.name for t in build_tasks(plan, select_variants("rerec-rechead"))}
    assert "eval full-catalogue" in names  # the best shuffled-prompt row, over the whole catalogue
    ranked_only = {t.name for t in build_tasks(plan, select_variants("sft-ranked,no-raae-ranked"))}
    assert "eval full-catalogue" not in ranked_only and "train no-raae-ranked" in ranked_only

    run = tmp_path / "sft-run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"status": "running", "results": {}}))
    with pytest.raises(ConciergeError, match="not a finished run"):
        share_sft_run(plan, run)
    adapter = run / "sft" / "adapter"
    sft_only = {"sft": {"adapter": str(adapter), "finished": True}}
    (run / "run.json").write_text(json.dumps({"status": "finished", "results": sft_only}))
    with pytest.raises(ConciergeError, match="missing: traces"):  # seed_variant_run copies both
        share_sft_run(plan, run)
    both = {**sft_only, "traces": {"path": str(run / "traces.jsonl"), "finished": True}}
    (run / "run.json").write_text(json.dumps({"status": "finished", "results": both}))
    with pytest.raises(ConciergeError, match="adapter .* is not found"):  # no adapter written yet
        share_sft_run(plan, run)
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text("{}")
    assert not (tmp_path / "out" / "sft").exists()  # nothing linked by the refused calls
    share_sft_run(plan, run)
    share_sft_run(plan, run)  # idempotent
    sft_task = next(t for t in build_tasks(plan, chosen) if t.name == "train sft")
    assert sft_task.is_done() and (tmp_path / "out" / "sft").resolve() == run.resolve()


def test_a_rewritten_report_keeps_its_hand_written_section(tmp_path):
    from training.eval_report import HAND_WRITTEN, write_keeping_notes

    path = tmp_path / "report.md"
    write_keeping_notes(path, "# Tables\n\nold numbers\n")
    assert HAND_WRITTEN not in path.read_text()  # nothing hand-written yet: the tables alone
    path.write_text(path.read_text() + f"\n{HAND_WRITTEN}\n\nThe gain holds.\n")
    write_keeping_notes(path, "# Tables\n\nnew numbers\n")
    text = path.read_text()
    assert "new numbers" in text and "old numbers" not in text
    assert text.endswith(f"{HAND_WRITTEN}\n\nThe gain holds.\n") and text.count(HAND_WRITTEN) == 1


def _restore_module():
    import importlib.util
    path = Path(__file__).resolve().parents[2] / "bench" / "ablation_restore.py"
    spec = importlib.util.spec_from_file_location("ablation_restore", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_raw_rows_restore_where_the_harness_finds_them(tmp_path):
    restore = _restore_module()
    old, new = tmp_path / "p4", tmp_path / "p5"
    old.mkdir()
    new.mkdir()
    (old / "eval-sft.json").write_text('{"run": "old"}')
    (old / "probes-sft.json").write_text('{"probes": 1}')
    (old / "train-rerec.metrics.jsonl").write_text('{"step": 1}\n')
    (old / "notes.md").write_text("not a raw row")
    (new / "eval-sft.json").write_text('{"run": "new"}')
    plan = plan_in(tmp_path)
    assert restore.main([str(old), str(new), "--out", str(plan.out)]) == 0
    # the later source wins; each row lands where training.ablation.Plan reads it
    assert json.loads((plan.eval_dir("sft") / "results.json").read_text()) == {"run": "new"}
    assert json.loads(plan.probes_file("sft").read_text()) == {"probes": 1}
    assert (plan.run_dir("rerec") / "metrics.jsonl").read_text() == '{"step": 1}\n'
    assert not (plan.out / "notes.md").exists()
    # a finished evaluation makes its task done, so a resumed ablation skips it
    by_name = {t.name: t for t in build_tasks(plan)}
    assert by_name["eval sft"].is_done() and not by_name["eval zero-shot"].is_done()
    # a second restore leaves what is there unless forced
    (new / "eval-sft.json").write_text('{"run": "newer"}')
    restore.main([str(new), "--out", str(plan.out)])
    assert json.loads((plan.eval_dir("sft") / "results.json").read_text()) == {"run": "new"}
    restore.main([str(new), "--out", str(plan.out), "--force"])
    assert json.loads((plan.eval_dir("sft") / "results.json").read_text()) == {"run": "newer"}
