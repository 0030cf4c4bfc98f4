"""The persistent compilation cache of claim runs: where it goes, that it
is used, and that an in-process run leaves its caller's setting alone."""

import os
import subprocess
import sys

import jax
import pytest

from boundlab.claims import compile_cache

PROGRAM = """
import jax, jax.numpy as jnp
from boundlab.claims import compile_cache
compile_cache.use_compilation_cache({path!r}, min_compile_seconds=0.0)
f = jax.jit(lambda x: jnp.sin(x) @ jnp.cos(x).T + {salt})
print(float(f(jnp.ones((64, 64)))[0, 0]))
"""


def _run(path, salt):
  return subprocess.run([sys.executable, "-c",
                         PROGRAM.format(path=str(path), salt=salt)],
                        check=True, capture_output=True, text=True).stdout


def test_a_second_process_reads_what_the_first_wrote(tmp_path):
  cache = tmp_path / "xla"
  first = _run(cache, 1.0)
  entries = sorted(p.name for p in cache.iterdir())
  assert entries, "the first process wrote no cache entry"
  assert _run(cache, 1.0) == first              # same program, same number
  assert sorted(p.name for p in cache.iterdir()) == entries  # read, not new
  _run(cache, 2.0)                              # another program: new entry
  assert len(list(cache.iterdir())) > len(entries)


def test_the_with_block_restores_the_callers_setting(tmp_path):
  before = (jax.config.jax_compilation_cache_dir,
            os.environ.get("JAX_COMPILATION_CACHE_DIR"))
  with compile_cache.compilation_cache_at(tmp_path / "c") as path:
    assert path == (tmp_path / "c").absolute()
    assert jax.config.jax_compilation_cache_dir == str(path)
    assert os.environ["JAX_COMPILATION_CACHE_DIR"] == str(path)
    with compile_cache.compilation_cache_at(None):
      assert jax.config.jax_compilation_cache_dir is None
      assert "JAX_COMPILATION_CACHE_DIR" not in os.environ
    assert jax.config.jax_compilation_cache_dir == str(path)
  assert (jax.config.jax_compilation_cache_dir,
          os.environ.get("JAX_COMPILATION_CACHE_DIR")) == before


def test_default_directory_follows_the_environment(tmp_path, monkeypatch):
  monkeypatch.delenv("BOUNDLAB_COMPILE_CACHE", raising=False)
  assert compile_cache.default_directory(tmp_path) == tmp_path / "xla-cache"
  monkeypatch.setenv("BOUNDLAB_COMPILE_CACHE", str(tmp_path / "elsewhere"))
  assert compile_cache.default_directory(tmp_path) == tmp_path / "elsewhere"


@pytest.mark.parametrize("bad", [3, ""])
def test_bad_directory_names_the_parameter(bad):
  with pytest.raises(ValueError, match="directory"):
    compile_cache.use_compilation_cache(bad)


def test_negative_threshold_names_the_parameter(tmp_path):
  with pytest.raises(ValueError, match="min_compile_seconds"):
    compile_cache.use_compilation_cache(tmp_path, min_compile_seconds=-1)


def test_verify_puts_the_cache_where_told(tmp_path):
  from boundlab import cli
  only = ["verify", "--only", "cohen2021.heavy_ball_sharpness_at_convergence",
          "--no-progress"]
  before = jax.config.jax_compilation_cache_dir
  assert cli.main(only + ["--out", str(tmp_path / "a")]) == 0
  assert (tmp_path / "a" / "xla-cache").is_dir()
  assert cli.main(only + ["--out", str(tmp_path / "b"),
                          "--no-compile-cache"]) == 0
  assert not (tmp_path / "b" / "xla-cache").exists()
  assert cli.main(only + ["--out", str(tmp_path / "c"), "--compile-cache",
                          str(tmp_path / "mine")]) == 0
  assert (tmp_path / "mine").is_dir()
  assert not (tmp_path / "c" / "xla-cache").exists()
  assert cli.main(only + ["--out", str(tmp_path / "d"), "--compile-cache",
                          str(tmp_path / "x"), "--no-compile-cache"]) == 2
  assert jax.config.jax_compilation_cache_dir == before
