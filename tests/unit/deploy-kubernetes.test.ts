import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import YAML from 'yaml';
import { envSchema, parseFileConfig } from '../../src/config/config';

/**
 * deploy/kubernetes: every object is valid for its Kubernetes (or KEDA) schema, and the manifests fit the service:
 * probes on /healthz and /readyz, a grace period that covers preStop + SHUTDOWN_TIMEOUT_MS, env names the
 * service's env schema knows (read from src/config/config.ts at run time) with valid values, credentials and the
 * attachment-link key from Secrets, the config file from the ConfigMap, and KEDA watching the inbound queue.
 */

const DIR = path.resolve(__dirname, '../../deploy/kubernetes');
// Parsed manifests: untyped YAML whose shape the models and these tests check.
type Obj = Record<string, any>;

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
};

interface Manifest {
  file: string;
  obj: Obj;
}

function loadManifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(DIR)
    .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')
    .sort()) {
    for (const doc of YAML.parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8'))) {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      const obj = doc.toJS() as Obj | null;
      if (obj) out.push({ file, obj });
    }
  }
  return out;
}

const ENV_NAMES = new Set(Object.keys(envSchema.shape));
const SECRET_LIKE = /TOKEN|SECRET|PASSWORD|_URL$/;

describe('deploy/kubernetes', () => {
  const manifests = loadManifests();
  const all = manifests.map((m) => m.obj);
  const one = (kind: string, name?: string): Obj => {
    const found = all.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
    if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
    return found[0];
  };
  const deployment = one('Deployment');
  const pod = deployment.spec.template.spec;
  const container = pod.containers.find((c: Obj) => c.name === 'workitem') as Obj;
  const env: Obj[] = container.env;
  const literal = (name: string): string | undefined => env.find((e) => e.name === name)?.value;
  const secretData = (name: string): Record<string, string> => {
    const s = one('Secret', name);
    return {
      ...s.stringData,
      ...Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString()])),
    };
  };

  it.each(manifests.map((m) => [`${m.file}: ${m.obj.kind} ${m.obj.metadata?.name}`, m.obj] as const))(
    '%s is valid for its schema',
    (_label, obj) => {
      const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
      expect(Model).toBeDefined();
      expect(() => new Model(obj).validate()).not.toThrow();
      expect(obj.metadata.labels?.['app.kubernetes.io/name']).toBe('workitem-server');
    },
  );

  it('the validation is real: a bad Deployment and a ScaledObject without target are refused', () => {
    const bad = structuredClone(deployment);
    bad.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(() => new Deployment(bad).validate()).toThrow(/containerPort/);
    const so = structuredClone(one('ScaledObject'));
    delete so.spec.scaleTargetRef;
    expect(() => new ScaledObject(so as ConstructorParameters<typeof ScaledObject>[0]).validate()).toThrow(/scaleTargetRef/);
  });

  it('kustomization.yaml lists every manifest except the Secret example', () => {
    const k = YAML.parse(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'));
    expect(k).toMatchObject({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization' });
    const files = [...new Set(manifests.map((m) => m.file))].filter((f) => f !== 'secret.example.yaml');
    expect([...k.resources].sort()).toEqual(files.sort());
    expect(manifests.filter((m) => m.file === 'secret.example.yaml').every((m) => m.obj.kind === 'Secret')).toBe(true);
  });

  it('Service, PodDisruptionBudget and ScaledObject select the Deployment and its pods', () => {
    const podLabels = deployment.spec.template.metadata.labels;
    expect(podLabels).toMatchObject(deployment.spec.selector.matchLabels);
    const service = one('Service');
    expect(podLabels).toMatchObject(service.spec.selector);
    expect(service.spec.ports).toContainEqual(expect.objectContaining({ name: 'http', targetPort: 'http' }));
    expect(podLabels).toMatchObject(one('PodDisruptionBudget').spec.selector.matchLabels);
    expect(one('ScaledObject').spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
  });

  it('probes: /healthz for startup and liveness, /readyz for readiness, on the port the service listens on', () => {
    const http = container.ports.find((p: Obj) => p.name === 'http');
    expect(String(http.containerPort)).toBe(literal('HTTP_PORT'));
    expect(literal('HTTP_HOST')).toBe('0.0.0.0');
    for (const [probe, pathName] of [
      ['startupProbe', '/healthz'],
      ['livenessProbe', '/healthz'],
      ['readinessProbe', '/readyz'],
    ]) {
      expect(container[probe].httpGet).toEqual({ path: pathName, port: 'http' });
      expect(container[probe].timeoutSeconds).toBeGreaterThanOrEqual(2);
    }
    // A broker or Redis outage makes /readyz 503: readiness, never a restart loop through liveness.
    expect(container.livenessProbe.httpGet.path).not.toBe('/readyz');
  });

  it('terminationGracePeriodSeconds covers preStop + SHUTDOWN_TIMEOUT_MS + closing, and not much more', () => {
    const preStop: string[] = container.lifecycle.preStop.exec.command;
    expect(preStop[0]).toBe('sleep');
    const preStopSeconds = Number(preStop[1]);
    expect(preStopSeconds).toBeGreaterThanOrEqual(3);
    const shutdownSeconds = Math.ceil(Number(literal('SHUTDOWN_TIMEOUT_MS')) / 1000);
    expect(shutdownSeconds).toBeGreaterThan(0);
    const grace: number = pod.terminationGracePeriodSeconds;
    expect(grace).toBeGreaterThanOrEqual(preStopSeconds + shutdownSeconds + 5);
    expect(grace).toBeLessThanOrEqual(preStopSeconds + shutdownSeconds + 30);
  });

  it('every env name is one the service reads (src/config/config.ts), each set once', () => {
    expect(ENV_NAMES.size).toBeGreaterThan(10);
    const names = env.map((e) => e.name as string);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => !ENV_NAMES.has(n))).toEqual([]);
    expect(container.envFrom).toBeUndefined(); // names from a Secret's keys could not be checked
    expect(pod.enableServiceLinks).toBe(false); // nor could Kubernetes' own <SERVICE>_PORT variables
  });

  it('credentials and ATTACHMENT_URL_SECRET come from Secrets that have those keys', () => {
    for (const name of ['AMQP_URL', 'REDIS_URL', 'ATTACHMENT_URL_SECRET']) {
      const ref = env.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
      expect({ name, ref }).toEqual({ name, ref: expect.objectContaining({ key: expect.any(String) }) });
      expect(ref.optional ?? false).toBe(false);
    }
    for (const e of env) {
      if (SECRET_LIKE.test(e.name) && e.name !== 'PUBLIC_BASE_URL')
        expect({ name: e.name, value: e.value }).toEqual({ name: e.name, value: undefined });
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) expect(Object.keys(secretData(ref.name))).toContain(ref.key);
    }
  });

  it('the env values, with the example Secret, pass the service env schema', () => {
    const values: Record<string, string> = {};
    for (const e of env) {
      const ref = e.valueFrom?.secretKeyRef;
      values[e.name] = ref ? secretData(ref.name)[ref.key] : e.value;
    }
    const parsed = envSchema.safeParse(values);
    expect(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([]);
    expect(values.REQUIRE_DURABLE_REDIS).toBe('true');
  });

  it('WORKITEM_CONFIG is the ConfigMap file, mounted read-only, and that file passes the config schema', () => {
    const file = literal('WORKITEM_CONFIG') as string;
    const mount = container.volumeMounts.find((m: Obj) => path.posix.dirname(file) === m.mountPath);
    expect(mount?.readOnly).toBe(true);
    const volume = pod.volumes.find((v: Obj) => v.name === mount.name);
    const item = volume.configMap.items.find((i: Obj) => i.path === path.posix.basename(file));
    const cm = one('ConfigMap', volume.configMap.name);
    const text = cm.data[item.key];
    expect(() => parseFileConfig(JSON.parse(text), `${cm.metadata.name}/${item.key}`)).not.toThrow();
  });

  it('KEDA scales on the inbound queue the config names, with credentials from a Secret, and the PDB lets drains go on', () => {
    const so = one('ScaledObject');
    const cfg = parseFileConfig(JSON.parse(one('ConfigMap').data['workitem.json']), 'configmap');
    const rabbit = so.spec.triggers.find((t: Obj) => t.type === 'rabbitmq');
    expect(rabbit.metadata).toMatchObject({ queueName: cfg.topology.inboundQueue, mode: 'QueueLength' });
    expect(rabbit.metadata.queueName).toBe('workitem.inbound');
    expect(Number(rabbit.metadata.value)).toBeGreaterThan(0);
    expect(rabbit.metadata.host).toBeUndefined(); // never a URL with a password in the manifest
    const auth = one('TriggerAuthentication', rabbit.authenticationRef.name);
    const host = auth.spec.secretTargetRef.find((r: Obj) => r.parameter === 'host');
    expect(secretData(host.name)[host.key]).toMatch(/^amqps?:\/\//);
    expect(so.spec.minReplicaCount).toBeGreaterThanOrEqual(2);
    expect(so.spec.maxReplicaCount).toBeGreaterThan(so.spec.minReplicaCount);
    const pdb = one('PodDisruptionBudget').spec;
    if (pdb.minAvailable !== undefined) expect(pdb.minAvailable).toBeLessThan(so.spec.minReplicaCount);
    else expect(pdb.maxUnavailable).toBeGreaterThanOrEqual(1);
  });
});
