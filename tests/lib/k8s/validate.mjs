#!/usr/bin/env node
// Validate a kustomize directory (deploy/k8s) without a cluster:
//  1. build it: a small resolver of the Kustomization fields wharf uses
//     (resources, namespace, labels); any other field is an error, so the
//     resolver never silently ignores something kustomize would apply;
//  2. each object against its JSON Schema: Kubernetes core (kubernetes-models),
//     KEDA (@kubernetes-models/keda) and prometheus-operator; a kind without a
//     schema is an error;
//  3. strictly: a field the schema does not define (a typo) is an error. The
//     compiled validators read every property they know; a property they
//     never read is unknown to the schema (maps such as labels are walked
//     whole, so their keys count as read);
//  4. references: ConfigMaps, Secrets and their keys, volumes, selectors,
//     ports, KEDA targets and authentication, ServiceMonitor endpoints, and
//     each rabbitmq trigger's queue among --queues.
// Usage: node validate.mjs [--json] [--queues q1,q2] DIR
// Prints the errors (path and reason) and exits 1, or exits 0 with a summary
// (--json: the built objects as a JSON array on stdout).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
let yaml;
try {
  yaml = (await import('js-yaml')).default;
} catch (e) {
  console.error('validate.mjs: dependencies missing; run `npm ci` in ' + HERE);
  process.exit(1);
}

const NM = path.join(HERE, 'node_modules');
const SCHEMAS = {
  'v1/Namespace': 'kubernetes-models/_schemas/IoK8sApiCoreV1Namespace.js',
  'v1/ConfigMap': 'kubernetes-models/_schemas/IoK8sApiCoreV1ConfigMap.js',
  'v1/Secret': 'kubernetes-models/_schemas/IoK8sApiCoreV1Secret.js',
  'v1/Service': 'kubernetes-models/_schemas/IoK8sApiCoreV1Service.js',
  'v1/ServiceAccount': 'kubernetes-models/_schemas/IoK8sApiCoreV1ServiceAccount.js',
  'apps/v1/Deployment': 'kubernetes-models/_schemas/IoK8sApiAppsV1Deployment.js',
  'policy/v1/PodDisruptionBudget': 'kubernetes-models/_schemas/IoK8sApiPolicyV1PodDisruptionBudget.js',
  'keda.sh/v1alpha1/ScaledObject': '@kubernetes-models/keda/_schemas/ComGithubKedacoreKedaV2ApisKedaV1alpha1ScaledObject.js',
  'keda.sh/v1alpha1/TriggerAuthentication':
    '@kubernetes-models/keda/_schemas/ComGithubKedacoreKedaV2ApisKedaV1alpha1TriggerAuthentication.js',
  'monitoring.coreos.com/v1/ServiceMonitor':
    '@kubernetes-models/prometheus-operator/_schemas/ComGithubPrometheusOperatorPrometheusOperatorPkgApisMonitoringV1ServiceMonitor.js',
};
const CLUSTER_SCOPED = new Set(['Namespace']);

const errors = [];
const err = (where, msg) => errors.push(`${where}: ${msg}`);

// ------------------------------------------------------------------ kustomize
const KUSTOMIZATION_FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'labels', 'resources']);

function readDocs(file) {
  const text = fs.readFileSync(file, 'utf8');
  // kubectl reads YAML 1.1 (0440 is octal 288), js-yaml YAML 1.2 (0440 is
  // 440): a leading-zero number means two different things.
  text.split('\n').forEach((line, i) => {
    if (/^[^#]*:\s*0\d+\s*(#.*)?$/.test(line)) err(`${file}:${i + 1}`, 'a number with a leading 0 is octal in YAML 1.1 (kubectl) but decimal in YAML 1.2: write it in decimal (288 for 0440)');
  });
  return yaml.loadAll(text).filter((d) => d !== null && d !== undefined);
}

function build(dir) {
  const kfile = path.join(dir, 'kustomization.yaml');
  const [k] = readDocs(kfile);
  if (!k || k.kind !== 'Kustomization') throw new Error(`${kfile}: not a Kustomization`);
  for (const f of Object.keys(k)) {
    if (!KUSTOMIZATION_FIELDS.has(f)) err(kfile, `field "${f}" is not supported by this resolver`);
  }
  let objs = [];
  for (const r of k.resources || []) {
    const p = path.join(dir, r);
    if (!fs.existsSync(p)) { err(kfile, `resource ${r} does not exist`); continue; }
    if (fs.statSync(p).isDirectory()) objs = objs.concat(build(p));
    else objs = objs.concat(readDocs(p).map((o) => Object.assign(o, { __file: r })));
  }
  for (const o of objs) {
    if (!o || typeof o !== 'object' || !o.metadata) continue;
    if (k.namespace) {
      if (o.kind === 'Namespace') o.metadata.name = k.namespace;
      else if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
    }
    for (const l of k.labels || []) {
      for (const f of Object.keys(l)) if (f !== 'pairs') err(kfile, `labels.${f} is not supported by this resolver`);
      o.metadata.labels = Object.assign({}, o.metadata.labels || {}, l.pairs || {});
    }
  }
  return objs;
}

// ------------------------------------------------------------------ schemas
const loaded = {};
async function schemaFor(gvk) {
  if (!SCHEMAS[gvk]) return null;
  if (!loaded[gvk]) loaded[gvk] = (await import(pathToFileURL(path.join(NM, SCHEMAS[gvk])).href)).validate;
  return loaded[gvk];
}

// Wrap `v` so that every property the validator reads is recorded.
function tracked(v, p, seen) {
  if (v === null || typeof v !== 'object') return v;
  return new Proxy(v, {
    get(t, key, r) {
      if (typeof key === 'string') seen.add(p + '/' + key);
      return tracked(Reflect.get(t, key, r), p + '/' + key, seen);
    },
  });
}

function unread(v, p, seen, out) {
  if (v && typeof v === 'object') {
    for (const key of Object.keys(v)) {
      const q = p + '/' + key;
      if (!seen.has(q)) out.push(q);
      else unread(v[key], q, seen, out);
    }
  }
  return out;
}

async function checkSchema(o, where) {
  const gvk = `${o.apiVersion}/${o.kind}`;
  const validate = await schemaFor(gvk);
  if (!validate) return err(where, `no schema for ${gvk} (add it to SCHEMAS in validate.mjs)`);
  const seen = new Set();
  if (!validate(tracked(o, '', seen))) {
    for (const e of validate.errors) err(where, `${e.instancePath || '/'} ${e.message || e.keyword} ${JSON.stringify(e.params)}`);
  }
  for (const p of unread(o, '', seen, [])) err(where, `${p}: unknown field (not in the ${gvk} schema)`);
}

// ------------------------------------------------------------------ references
const matches = (sel, labels) => sel && Object.keys(sel).length > 0 &&
  Object.entries(sel).every(([k, v]) => (labels || {})[k] === v);

function checkRefs(objs, queues) {
  const by = (kind) => objs.filter((o) => o.kind === kind);
  const names = (kind) => new Set(by(kind).map((o) => o.metadata.name));
  const secrets = Object.fromEntries(by('Secret').map((s) => [s.metadata.name,
    new Set(Object.keys(Object.assign({}, s.data || {}, s.stringData || {})))]));
  const configMaps = names('ConfigMap');
  const secretKey = (where, name, key) => {
    if (!secrets[name]) err(where, `Secret ${name} is not in the build`);
    else if (key !== undefined && !secrets[name].has(key)) err(where, `Secret ${name} has no key ${key}`);
  };
  const seenIds = new Set();
  for (const o of objs) {
    const id = `${o.kind}/${o.metadata.namespace || ''}/${o.metadata.name}`;
    if (seenIds.has(id)) err(id, 'defined twice');
    seenIds.add(id);
  }
  const pods = by('Deployment').map((d) => ({ d, tpl: d.spec.template }));
  for (const { d, tpl } of pods) {
    const w = `Deployment ${d.metadata.name}`;
    if (!matches(d.spec.selector.matchLabels, tpl.metadata.labels)) err(w, 'selector does not match the pod labels');
    const vols = new Set((tpl.spec.volumes || []).map((v) => v.name));
    for (const v of tpl.spec.volumes || []) {
      if (v.configMap && !configMaps.has(v.configMap.name)) err(w, `ConfigMap ${v.configMap.name} is not in the build`);
      if (v.secret) {
        secretKey(`${w} volume ${v.name}`, v.secret.secretName);
        for (const it of v.secret.items || []) secretKey(`${w} volume ${v.name}`, v.secret.secretName, it.key);
      }
    }
    for (const c of tpl.spec.containers) {
      for (const m of c.volumeMounts || []) if (!vols.has(m.name)) err(`${w} ${c.name}`, `mounts unknown volume ${m.name}`);
      for (const e of c.env || []) {
        const r = e.valueFrom && e.valueFrom.secretKeyRef;
        if (r) secretKey(`${w} ${c.name} env ${e.name}`, r.name, r.key);
      }
      const ports = new Set((c.ports || []).map((p) => p.name));
      for (const pr of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        const port = c[pr] && c[pr].httpGet && c[pr].httpGet.port;
        if (typeof port === 'string' && !ports.has(port)) err(`${w} ${c.name}`, `${pr} names unknown port ${port}`);
      }
    }
  }
  for (const s of by('Service')) {
    const target = pods.find(({ tpl }) => matches(s.spec.selector, tpl.metadata.labels));
    if (!target) { err(`Service ${s.metadata.name}`, 'selects no Deployment'); continue; }
    const ports = new Set(target.tpl.spec.containers.flatMap((c) => (c.ports || []).map((p) => p.name)));
    for (const p of s.spec.ports) {
      if (typeof p.targetPort === 'string' && !ports.has(p.targetPort)) err(`Service ${s.metadata.name}`, `targetPort ${p.targetPort} is not a port of its pods`);
    }
  }
  for (const p of by('PodDisruptionBudget')) {
    if (!pods.some(({ tpl }) => matches(p.spec.selector.matchLabels, tpl.metadata.labels))) err(`PodDisruptionBudget ${p.metadata.name}`, 'selects no pods');
  }
  for (const t of by('TriggerAuthentication')) {
    for (const r of t.spec.secretTargetRef || []) secretKey(`TriggerAuthentication ${t.metadata.name}`, r.name, r.key);
  }
  const deployments = names('Deployment');
  const auths = names('TriggerAuthentication');
  const targets = new Set();
  for (const so of by('ScaledObject')) {
    const w = `ScaledObject ${so.metadata.name}`;
    const t = so.spec.scaleTargetRef.name;
    if (!deployments.has(t)) err(w, `scaleTargetRef ${t} is not a Deployment in the build`);
    if (targets.has(t)) err(w, `${t} is already scaled by another ScaledObject`);
    targets.add(t);
    for (const f of ['minReplicaCount', 'maxReplicaCount']) if (!Number.isInteger(so.spec[f])) err(w, `${f} is not set`);
    if (so.spec.minReplicaCount > so.spec.maxReplicaCount) err(w, 'minReplicaCount > maxReplicaCount');
    for (const [i, tr] of (so.spec.triggers || []).entries()) {
      const tw = `${w} triggers.${i}`;
      if (tr.type !== 'rabbitmq') continue;
      const m = tr.metadata || {};
      if (!['QueueLength', 'MessageRate'].includes(m.mode)) err(tw, `mode ${m.mode} is not QueueLength or MessageRate`);
      for (const f of ['value', 'activationValue']) {
        if (!/^\d+(\.\d+)?$/.test(String(m[f] ?? ''))) err(tw, `${f} "${m[f]}" is not a number`);
      }
      if (!['amqp', 'http', 'auto', undefined].includes(m.protocol)) err(tw, `protocol ${m.protocol} is unknown`);
      if (!m.queueName) err(tw, 'queueName is not set');
      else if (queues && !queues.includes(m.queueName)) err(tw, `queueName ${m.queueName} is not a wharf queue (${queues.join(', ')})`);
      if (m.host || m.hostFromEnv) err(tw, 'the broker URL belongs in the TriggerAuthentication, not in metadata');
      if (!tr.authenticationRef || !auths.has(tr.authenticationRef.name)) err(tw, 'authenticationRef names no TriggerAuthentication in the build');
    }
  }
  for (const sm of by('ServiceMonitor')) {
    const w = `ServiceMonitor ${sm.metadata.name}`;
    const svc = by('Service').find((s) => matches(sm.spec.selector.matchLabels, s.metadata.labels));
    if (!svc) { err(w, 'selects no Service'); continue; }
    const ports = new Set(svc.spec.ports.map((p) => p.name));
    for (const e of sm.spec.endpoints) {
      if (e.port && !ports.has(e.port)) err(w, `endpoint port ${e.port} is not a port of Service ${svc.metadata.name}`);
      const c = e.authorization && e.authorization.credentials;
      if (c) secretKey(w, c.name, c.key);
    }
  }
}

// ------------------------------------------------------------------ main
async function main(argv) {
  let json = false, queues = null, dir = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json') json = true;
    else if (argv[i] === '--queues') queues = argv[++i].split(',').filter(Boolean);
    else dir = argv[i];
  }
  if (!dir) { console.error('usage: validate.mjs [--json] [--queues q1,q2] DIR'); return 2; }
  const objs = build(path.resolve(dir));
  for (const o of objs) {
    const where = `${o.__file}: ${o.kind}/${(o.metadata || {}).name}`;
    delete o.__file;
    await checkSchema(o, where);
  }
  if (!errors.length) checkRefs(objs, queues);
  if (errors.length) {
    for (const e of errors) console.error('error: ' + e);
    console.error(`validate.mjs: ${dir}: ${errors.length} error(s)`);
    return 1;
  }
  if (json) console.log(JSON.stringify(objs));
  else {
    const kinds = {};
    for (const o of objs) kinds[o.kind] = (kinds[o.kind] || 0) + 1;
    console.log(`validate.mjs: ${dir}: ${objs.length} objects valid (${Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(', ')})`);
  }
  return 0;
}

main(process.argv.slice(2)).then((rc) => process.exit(rc), (e) => {
  console.error('validate.mjs: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
