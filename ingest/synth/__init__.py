"""The synthetic demo bank: its catalogue as data files and the generator of everything else.

`synthesize(out_dir, customers, seed)` writes every source file Fargo ingests
(see `bank`); `catalogue` reads the demo bank's products, healthcare services
and FAQ from `data/`. A real bank loads its own catalogue as source files and
needs neither.
"""

from ingest.synth.bank import DEFAULT_AS_OF, HIDDEN_NEEDS_FILE, SynthSummary, synthesize

__all__ = ["DEFAULT_AS_OF", "HIDDEN_NEEDS_FILE", "SynthSummary", "synthesize"]
