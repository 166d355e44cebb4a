"""A Qlik Sense load-script emulator: runs .qvs scripts offline (SPEC §7, §9).

The pipeline, one module per stage:
    splitter.py   script text -> statements (file, line)
    blocks.py     statements -> If/For/Do/Switch/Sub blocks
    dollar.py     $(...) expansion of each statement just before it runs
    tokens.py, parser.py   tokens -> expression trees, LOAD statements
    evaluator.py  expression trees -> closures (operators, NULL, duals)
    statements.py, loads.py   one handler per statement type; LOAD/SQL and the data model rules
    tables.py, inline.py, paths.py   tables, inline/text data, where files are looked for
    runner.py     the interpreter (variables, subs, control flow, error handling)
    functions.py  the script functions; rest_connector.py  LIB CONNECT / SQL SELECT over HTTP
    cli.py        python -m emulator SCRIPT [--connections FILE] [--var NAME=VALUE]... [--dump FILE]

Use from Python: ``Runner(connections, {"vHost": "..."}).run_file("app.qvs")``, then read
``runner.variables``, ``runner.model.tables``, ``runner.requests`` and ``runner.trace``.
"""
