#!/usr/bin/python3
"""Check the golden vectors against the JSON Schemas.

For every vector with a "value":
  1. validate it against schemas/envelope.schema.json;
  2. if that passes, validate value["args"] against
     schemas/jobs/<value["type"]>.json (no such file means unknown_type).
The vector passes when (both steps validate) == expect.ok, and, for a
failing vector, the step that failed matches its expected code:
  bad_envelope / unsupported_schema -> the envelope schema,
  unknown_type                      -> no job schema file,
  bad_args                          -> the job schema.
A vector without "value" must have expect.ok == false (its bytes are not
representable as JSON; the C decoder tests cover those).

Also checks that the schemas are valid draft 2020-12 schemas and that each
.json vector has its .msgpack twin and vice versa.

Prints "N passed, M failed" and exits non-zero if M > 0.
"""

import json
import os
import sys

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.dirname(HERE)
Validator = jsonschema.Draft202012Validator


def load_json(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def load_schema(path):
    """Load a schema and make sure it is itself valid."""
    schema = load_json(path)
    Validator.check_schema(schema)
    return Validator(schema)


def job_validator(cache, type_name):
    """The args validator for a job type, or None if the type is unknown."""
    if type_name not in cache:
        path = os.path.join(SCHEMAS, "jobs", type_name + ".json")
        cache[type_name] = load_schema(path) if os.path.exists(path) else None
    return cache[type_name]


def check_vector(envelope, jobs, doc):
    """Return None if the vector agrees with the schemas, else a reason."""
    expect = doc["expect"]
    if "value" not in doc:
        return None if expect["ok"] is False else \
            "has no value but expect.ok is true"
    value = doc["value"]

    # Which stage (if any) rejects the value, per the schemas.
    errors = sorted(envelope.iter_errors(value), key=lambda e: e.path)
    if errors:
        stage, detail = "envelope", errors[0].message
    else:
        jv = job_validator(jobs, value["type"])
        if jv is None:
            stage, detail = "unknown_type", "no jobs/%s.json" % value["type"]
        else:
            errors = sorted(jv.iter_errors(value["args"]),
                            key=lambda e: e.path)
            stage = "args" if errors else None
            detail = errors[0].message if errors else ""

    if expect["ok"]:
        return None if stage is None else \
            "expected ok, schema rejected at %s: %s" % (stage, detail)
    if stage is None:
        return "expected %s/%s, schemas accept it" % (expect["code"],
                                                      expect["field"])
    want = {"bad_envelope": "envelope", "unsupported_schema": "envelope",
            "unknown_type": "unknown_type", "bad_args": "args"}.get(
                expect["code"])
    if want != stage:
        return "expected %s, schema rejected at %s: %s" % (expect["code"],
                                                          stage, detail)
    return None


def main():
    envelope = load_schema(os.path.join(SCHEMAS, "envelope.schema.json"))
    jobs = {}
    for fname in sorted(os.listdir(os.path.join(SCHEMAS, "jobs"))):
        if fname.endswith(".json"):
            jobs[fname[:-5]] = load_schema(
                os.path.join(SCHEMAS, "jobs", fname))

    names = sorted({f.rsplit(".", 1)[0] for f in os.listdir(HERE)
                    if f.endswith(".json") or f.endswith(".msgpack")})
    passed = failed = 0
    for name in names:
        jpath = os.path.join(HERE, name + ".json")
        mpath = os.path.join(HERE, name + ".msgpack")
        if not (os.path.exists(jpath) and os.path.exists(mpath)):
            reason = "missing its .json or .msgpack twin"
        else:
            reason = check_vector(envelope, jobs, load_json(jpath))
        if reason is None:
            passed += 1
        else:
            failed += 1
            print("FAIL %s: %s" % (name, reason))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
