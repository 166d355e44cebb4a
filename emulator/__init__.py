"""A Qlik Sense load-script emulator: runs .qvs scripts offline (SPEC §7, §9).

The pipeline, one module per stage:
    lexicon.py    quotes, brackets, comments, $(Include=...): read the same way by every stage
    splitter.py   script text -> statements (file, line)
    blocks.py     statements -> If/For/Do/Switch/Sub blocks
    dollar.py     $(...) expansion of each statement just before it runs
    tokens.py, parser.py   tokens -> expression trees, LOAD statements
    evaluator.py  expression trees -> closures (operators, NULL, duals)
    statements.py the statement table: per first keyword(s), how a statement ends, parses, runs
                  and (control statements) which block it opens; loads.py runs LOAD/SQL
    program.py    the shapes shared by these stages (Statement, Block, LoadContext, Interpreter)
    tables.py, inline.py, paths.py   tables, inline/text data, where files are looked for
    runner.py     the interpreter (variables, subs, control flow, error handling)
    functions.py  the script functions; rest_connector.py  LIB CONNECT / SQL SELECT over HTTP
    cli.py        python -m emulator SCRIPT [--connections FILE] [--var NAME=VALUE]... [--dump FILE]

Use from Python: ``Runner(connections, {"vHost": "..."}).run_file("app.qvs")``, then read
``runner.variables``, ``runner.model.tables``, ``runner.requests`` and ``runner.trace``.
"""
