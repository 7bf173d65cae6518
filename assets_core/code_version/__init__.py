"""Code versions: a stable hash of what an asset's code computes (DESIGN §4).

An asset's code version hashes the normalized AST of its function (docstrings, comments,
formatting and its own ``@asset(...)`` decorator removed; annotations kept), the same for every
project-local function, class and module-level constant it references, followed transitively,
and the options that change its output: the resolved IO manager, ``ins`` and ``deps``.
Description, tags, owners, group, metadata and retries never count. A pin
(``code_version="v3"``) replaces the computed hash.

References are the free names of the code (``clean``, ``helpers.clean``), resolved through the
function's globals and closure cells. Code outside the project (site-packages, dist-packages,
the standard library, builtins) and Lumbung itself are never followed. A constant is versioned
by the module-level statement(s) that bind it in its defining module, so ``THRESHOLD = 10`` and
``PAT = re.compile("x")`` both count. A function with no readable source (``exec``, a REPL) is
versioned by its code object instead; that hash also changes with the Python version.

The modules, each using only those before it:

- ``normalize``: the canonical text of a syntax node, a code object or a literal, and its hash;
- ``names``: the free names a function, class or statement reads;
- ``index``: one source file parsed into its defs, classes, lambdas and module-level bindings;
- ``locality``: which files and modules are the project's, and so followed;
- ``version``: ``CodeVersion``, the value;
- ``cache``: file indexes and whole versions kept across processes in the on-disk cache
  (and each imported module's index beside its bytecode);
- ``versioner``: ``CodeVersioner`` (the public API, with ``CodeVersion`` and ``CACHE_FORMAT``),
  which resolves an asset's references into pieces, transitively, and hashes them.
"""
