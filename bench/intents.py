"""Fargo's intent model on the public benchmarks, trained from scratch on this machine.

    .venv/bin/python -m bench.intents --dataset banking77
    .venv/bin/python -m bench.intents --dataset clinc150 --cache-dir /tmp/fargo-intent-cache
    .venv/bin/python -m bench.intents --dataset banking77 --finetune-epochs 3

Prints test accuracy (BANKING77) or in-scope accuracy and out-of-scope recall at
the threshold chosen on validation (CLINC150), with the published anchors, and
the training time: wall clock and this process's CPU time, since other work on
the machine stretches the wall clock. Embeddings of the benchmark texts are
cached under --cache-dir (default: <FARGO_DATA_DIR>/cache/intent-benchmarks).
With --finetune-epochs N the MiniLM encoder is fine-tuned on the train split for
N epochs first (assistant/intents/finetune.py); the training time then includes it.
Its cosine head's logits get --tfidf-weight x a TF-IDF SVM's added (default 0.75,
0: the head alone).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from assistant.intents import OOS_RECALL_TARGET, OOS_RECALL_Z
from assistant.intents.benchmarks import DATASETS, evaluate
from assistant.intents.finetune import FinetuneConfig
from assistant.settings import load_settings

DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "datasets"
ANCHORS = {
    "banking77": [
        ("BERT-large (Casanueva et al. 2020)", "accuracy 93.66"),
        ("USE+ConveRT (Casanueva et al. 2020)", "accuracy 93.36"),
    ],
    "clinc150": [
        ("BERT, threshold (Larson et al. 2019)", "in-scope 96.2, OOS recall 52.3"),
        ("BERT, oos+ (Larson et al. 2019)", "in-scope 96.7, OOS recall 59.2"),
        ("Rasa (Larson et al. 2019)", "in-scope 91.5, OOS recall 45.3"),
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=DATASETS, required=True)
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT, help="folder holding banking77/ and clinc150/")
    parser.add_argument("--cache-dir", type=Path, default=None, help="where benchmark embeddings are cached")
    parser.add_argument("--json", action="store_true", help="print the raw result as JSON too")
    defaults = FinetuneConfig()
    parser.add_argument("--finetune-epochs", type=int, default=0, help="fine-tune the encoder this many epochs first (0: frozen)")
    parser.add_argument("--finetune-lr", type=float, default=defaults.learning_rate, help="the encoder's learning rate")
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch threads for fine-tuning")
    parser.add_argument("--tfidf-weight", type=float, default=defaults.tfidf_weight,
                        help="add this x a TF-IDF SVM's scores to the fine-tuned head's (0: the head alone)")
    args = parser.parse_args()
    if args.finetune_epochs < 0 or args.threads < 1 or args.finetune_lr <= 0 or args.tfidf_weight < 0:
        parser.error("--finetune-epochs must be 0 or more, --threads 1 or more, --finetune-lr above 0 "
                     "and --tfidf-weight 0 or more")
    cache_dir = args.cache_dir or load_settings().data_dir / "cache" / "intent-benchmarks"
    finetune = None
    if args.finetune_epochs > 0:
        finetune = FinetuneConfig(epochs=args.finetune_epochs, learning_rate=args.finetune_lr, threads=args.threads,
                                  tfidf_weight=args.tfidf_weight)

    wall, cpu = time.perf_counter(), time.process_time()
    result = evaluate(args.dataset, args.data_root, cache_dir=cache_dir, finetune=finetune,
                      progress=lambda line: print("  " + line, flush=True))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu

    print_result(result, wall, cpu)
    if args.json:
        print(json.dumps(result, indent=2))


def print_result(result: dict, wall: float, cpu: float) -> None:
    test = result["test"]
    print(f"{result['dataset']}: {result['train_examples']:,} training examples, {result['labels']} labels, "
          f"{result['test_examples']:,} test examples")
    if "in_scope_accuracy" in test:
        print(f"  in-scope accuracy   {100 * test['in_scope_accuracy']:6.2f}  (rejected in-scope queries count as errors)")
        print(f"  out-of-scope recall {100 * test['out_of_scope_recall']:6.2f}  at threshold {result['threshold']:.3f}"
              f" (chosen on validation: best in-scope accuracy with OOS recall >= {100 * OOS_RECALL_TARGET:.0f},"
              f" lower {OOS_RECALL_Z:g}-sigma bound)")
        print("  other thresholds chosen on validation:")
    else:
        print(f"  accuracy            {100 * test['accuracy']:6.2f}")
    for point in result.get("operating_points", ()):
        print(f"    threshold {point['threshold']:.3f} (OOS recall {100 * point['validation_oos_recall']:.0f} on validation): "
              f"in-scope {100 * point['in_scope_accuracy']:6.2f}, OOS recall {100 * point['out_of_scope_recall']:6.2f}")
    cached = " (cached)" if result["embeddings_cached"] else ""
    tuned = result.get("finetune")
    if tuned:
        settings = tuned["config"]
        print(f"  fine-tuned encoder: {settings['epochs']} epochs, lr {settings['learning_rate']:g}, "
              f"TF-IDF weight {settings.get('tfidf_weight', 0):g}, "
              f"{tuned['seconds']:.0f} s; loss per epoch {tuned['loss_per_epoch']}")
    print(f"  training: embed {result['embed_seconds']:.0f} s{cached}, fit {result['train_seconds']:.0f} s; "
          f"whole run {wall:.0f} s wall, {cpu:.0f} s CPU")
    for name, figures in ANCHORS[result["dataset"]]:
        print(f"  anchor: {name:<40} {figures}")


if __name__ == "__main__":
    main()
