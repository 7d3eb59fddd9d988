#!/usr/bin/python3
"""deploy/k8s through tests/lib/k8s/validate.mjs (kustomize resolver, the
Kubernetes/KEDA/prometheus-operator schemas, strict unknown-field check,
references), with the queue names taken from a real worker's declared
topology; then wharf's own rules on the built objects (one ScaledObject per
family queue, terminationGracePeriodSeconds outlasting the worker's drain,
non-root read-only pods, secrets as files, probes on /healthz). Deliberately
broken copies must fail. If kubectl is on PATH, its `kustomize` output must
equal the resolver's."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import wharftest  # noqa: E402

env = wharftest.Env()
K8S = os.path.join(env.src, "deploy", "k8s")
VALIDATOR = os.path.join(env.src, "tests", "lib", "k8s", "validate.mjs")


def node():
    exe = shutil.which("node") or shutil.which("nodejs")
    if not exe:  # fail, never skip: tests/run installs nodejs and runs npm ci
        raise RuntimeError("node not found (tests/lib/packages.txt: nodejs)")
    if not os.path.isdir(os.path.join(env.src, "tests", "lib", "k8s", "node_modules", "kubernetes-models")):
        raise RuntimeError("tests/lib/k8s/node_modules is missing: run `npm ci` there (tests/run does)")
    return exe


class K8sTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The family queues as a real worker declares them (wh_topo.c).
        amqp, prefix = env.new_vhost(), env.new_prefix()
        w = env.start_worker(amqp, prefix, concurrency=1, families="system,runtime,registry,provision")
        def family_queues():  # declared when the worker's AMQP side is up
            qs = sorted(q for q in env.list_queues(amqp) if re.fullmatch(r"wharf\.[a-z]+", q) and q != "wharf.dead")
            return qs if len(qs) >= 4 else None
        try:
            cls.queues = wharftest.wait_for(family_queues, timeout=30, interval=0.2, what="the family queues")
        finally:
            w.stop()

    def validate(self, d, ok=True):
        cp = subprocess.run([node(), VALIDATOR, "--json", "--queues", ",".join(self.queues), d], capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL)
        if ok:
            self.assertEqual(cp.returncode, 0, cp.stderr)
            return json.loads(cp.stdout)
        self.assertNotEqual(cp.returncode, 0, "a broken copy passed:\n" + cp.stdout[:2000])
        return cp.stderr

    def test_manifests_validate_and_follow_the_rules(self):
        objs = self.validate(K8S)
        kinds = lambda k: [o for o in objs if o["kind"] == k]  # noqa: E731
        self.assertTrue(all(o["metadata"].get("namespace") == "wharf" for o in objs if o["kind"] != "Namespace"))

        # one ScaledObject per family queue, each on its own worker Deployment
        sos = kinds("ScaledObject")
        trig = {so["spec"]["triggers"][0]["metadata"]["queueName"]: so for so in sos}
        self.assertEqual(sorted(trig), self.queues)
        for q, so in trig.items():
            m = so["spec"]["triggers"][0]["metadata"]
            self.assertEqual(m["mode"], "QueueLength")
            self.assertGreater(float(m["value"]), 0)
            self.assertIn("activationValue", m)
            self.assertIn("minReplicaCount", so["spec"])
            self.assertGreaterEqual(so["spec"]["maxReplicaCount"], 2)
            fam = q.split(".", 1)[1]
            dep = [d for d in kinds("Deployment") if d["metadata"]["name"] == so["spec"]["scaleTargetRef"]["name"]][0]
            args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
            self.assertEqual(args[args.index("--families") + 1], fam, "%s scales a worker of another family" % q)
        ta = kinds("TriggerAuthentication")[0]["spec"]["secretTargetRef"]
        self.assertEqual([r["parameter"] for r in ta], ["host"])

        # the worker config from the ConfigMap is accepted by the worker, and
        # the pods wait longer than its drain
        cm = kinds("ConfigMap")[0]
        grace = self.worker_grace(cm["data"]["worker.ini"])
        workers = [d for d in kinds("Deployment") if d["metadata"]["name"].startswith("wharf-worker-")]
        self.assertEqual(len(workers), 4)
        for d in kinds("Deployment"):
            pod = d["spec"]["template"]["spec"]
            name = d["metadata"]["name"]
            self.assertTrue(pod["securityContext"]["runAsNonRoot"], name)
            self.assertNotEqual(pod["securityContext"].get("runAsUser"), 0, name)
            for c in pod["containers"]:
                sc = c["securityContext"]
                self.assertTrue(sc["readOnlyRootFilesystem"], name)
                self.assertFalse(sc["allowPrivilegeEscalation"], name)
                self.assertEqual(sc["capabilities"]["drop"], ["ALL"], name)
                for e in c.get("env", []):  # secrets never inline
                    self.assertNotIn("value", e if e["name"].endswith("_URL") else {}, name)
        for d in workers:
            pod = d["spec"]["template"]["spec"]
            self.assertGreaterEqual(pod["terminationGracePeriodSeconds"], grace + 10)
            mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
            vols = {v["name"]: v for v in pod["volumes"]}
            self.assertEqual(vols[mounts["/etc/wharf"]["name"]]["configMap"]["name"], cm["metadata"]["name"])
            self.assertIn("secret", vols[mounts["/run/secrets/wharf"]["name"]])
        serve = [d for d in kinds("Deployment") if d["metadata"]["name"] == "wharf-serve"][0]
        c = serve["spec"]["template"]["spec"]["containers"][0]
        for p in ("livenessProbe", "readinessProbe"):
            self.assertEqual(c[p]["httpGet"]["path"], "/healthz")
        self.assertEqual(len(kinds("PodDisruptionBudget")), 5)
        sm = kinds("ServiceMonitor")[0]["spec"]["endpoints"][0]
        self.assertEqual(sm["path"], "/metrics")
        self.assertEqual(sm["authorization"]["type"], "Bearer")

    def worker_grace(self, ini):
        d = tempfile.mkdtemp(prefix="k8sini-", dir=env.tmp)
        # the inventory's secret files, as the pod would have them mounted
        for f in set(re.findall(r"/run/secrets/wharf/([\w.-]+)", ini)):
            with open(os.path.join(d, f), "w") as fh:
                fh.write("placeholder\n")
        path = os.path.join(d, "worker.ini")
        with open(path, "w") as f:
            f.write(ini.replace("/run/secrets/wharf/", d + "/"))
        cp = subprocess.run([os.path.join(env.bin, "wharf-worker"), "--config", path, "--check-config"],
                            capture_output=True, text=True, timeout=30)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return int(re.search(r"^grace_s = (\d+) +; ", cp.stdout, re.M).group(1))

    def broken(self, fname, old, new, count=1):
        d = tempfile.mkdtemp(prefix="k8sbad-", dir=env.tmp)
        for f in os.listdir(K8S):
            shutil.copy(os.path.join(K8S, f), d)
        p = os.path.join(d, fname)
        with open(p) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(p, "w") as f:
            f.write(text.replace(old, new, count))
        return d

    def test_broken_copies_fail(self):
        cases = [
            ("workers.yaml", "          securityContext:\n", "          securityContex:\n",
             "securityContex: unknown field"),
            ("workers.yaml", "  revisionHistoryLimit: 3", "  revisionHistoryLimit: three", "revisionHistoryLimit"),
            ("keda.yaml", "queueName: wharf.system", "queueName: wharf.sytem", "wharf.sytem is not a wharf queue"),
            ("keda.yaml", "    name: wharf-worker-runtime\n", "    name: wharf-worker-runtim\n",
             "scaleTargetRef wharf-worker-runtim"),
            ("keda.yaml", "mode: QueueLength", "mode: QueueLen", "mode QueueLen"),
            ("servicemonitor.yaml", "key: metrics-token", "key: metric-token", "has no key metric-token"),
            ("serve.yaml", "defaultMode: 288 ", "defaultMode: 0440 ", "leading 0 is octal"),
            ("kustomization.yaml", "resources:", "patches: []\nresources:", "not supported by this resolver"),
        ]
        for fname, old, new, want in cases:
            with self.subTest(change=new.strip()):
                self.assertIn(want, self.validate(self.broken(fname, old, new), ok=False))

    def test_resolver_matches_kubectl_kustomize_when_present(self):
        kubectl = shutil.which("kubectl")
        if not kubectl:
            print("(kubectl not installed: the resolver is checked by the schema and rule tests only)")
            return
        cp = subprocess.run([kubectl, "kustomize", K8S], capture_output=True, text=True, timeout=120)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        theirs = sorted(json.dumps(o, sort_keys=True) for o in yaml.safe_load_all(cp.stdout) if o)
        ours = sorted(json.dumps(o, sort_keys=True) for o in self.validate(K8S))
        self.assertEqual(ours, theirs)


if __name__ == "__main__":
    unittest.main()
