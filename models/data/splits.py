"""Tune and test halves of the dev sets: thresholds, weights and checkpoints are chosen on tune;
test is what the docs report, and nothing is chosen on it.

A sample's side is decided by its text alone (a stable hash), so the same text, rendered at any
blur, DPR or raster path, or in another element, never sits on both sides.
"""
import hashlib

SPLITS = ("tune", "test")


def split_of(sample):
    """"tune" or "test" for a dev-set manifest entry."""
    digest = hashlib.sha256(sample["text"].encode("utf-8")).digest()
    return SPLITS[digest[0] % 2]


def by_split(records, summarize):
    """{split: summarize(that split's records)} for each split that has records (each carries "split")."""
    return {split: summarize(chosen) for split in SPLITS if (chosen := [r for r in records if r["split"] == split])}


def split_sections(results, tables, samples_in):
    """Markdown of a result's test half, tune half and all samples, in that order: ``tables(summary)``
    gives one summary's table lines, ``samples_in(summary)`` its sample count."""
    lines = []
    for split in SPLITS[::-1]:
        if split in results.get("splits", {}):
            summary = results["splits"][split]
            lines += [f"### The {split} split ({samples_in(summary)} samples)", ""] + tables(summary)
    return lines + [f"### All {results['samples']} samples", ""] + tables(results["summary"])
