"""The comparison of two results files as Markdown: the gates' findings, computed by results/compare.py."""

from __future__ import annotations

from edgekit.render.markdown import cell, item, table
from edgekit.results.compare import FLAG, INFO, Comparison


def render(comparison: Comparison, baseline_name: str, current_name: str) -> str:
    """The comparison as Markdown: the verdict, each failure and flag, a change table per model."""
    failures = comparison.failures
    flags = [f for f in comparison.findings if f.level == FLAG]
    verdict = "FAIL" if failures else "pass"
    gates = comparison.gates
    latency_gate = ("not gated" if gates.max_latency_regression is None
                    else f"p50 regression at most {gates.max_latency_regression:.0%} beyond the noise between "
                         f"rounds (rows timed in one round are flagged, not failed)")
    placement_gate = ("no row was profiled in both runs (bench --profile), not applied"
                      if not comparison.placement_gated else
                      f"no rise in partitions and no op moved from an accelerator to the CPU, on the "
                      f"{comparison.placement_gated} row(s) profiled in both runs")
    lines = [f"## edgekit compare: {verdict} ({len(failures)} failed, {len(flags)} flagged)", "",
             f"{item(current_name)} against the baseline {cell(baseline_name)}. Gates: accuracy drop at most "
             f"{gates.max_accuracy_drop:g} points; latency {latency_gate}; file size growth at most "
             f"{gates.max_size_growth:.0%}; placement: {placement_gate}.", ""]
    if comparison.machines_differ:
        lines += [f"The runs come from different machines ({cell(comparison.machines_differ)}): latency changes "
                  "are flagged, not failed.", ""]
    for title, found in (("Failed", failures), ("Flagged", flags),
                         ("Noted", [f for f in comparison.findings if f.level == INFO])):
        if found:
            lines += [f"### {title}", "", *(f"- {item(f.where)}: {cell(f.message)}" for f in found), ""]
    headers = ["variant", "runtime", "task metric", "change (points)", "p50 us", "p50 change", "verdict"]
    for name, rows in comparison.tables.items():
        lines += [f"### {cell(name)}", "", *table(headers, rows, right={3, 4, 5}), ""]
    return "\n".join(lines)
