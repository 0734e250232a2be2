// The load generator of scripts/bench_load.py: N clinicians, each a browser of its own, doing the EHR launch
// (sandbox /ehr/launch -> app /launch -> sandbox /authorize -> app /callback -> the patient page), the summary
// fragment when the page names one, then (unless launch-only) the checklist with the check run and "Save draft
// order". No retries: every failure is reported with its step and side (app or sandbox).
//
// Protocol (JSON lines): each line on stdin is a job (one process serves a whole benchmark, so its JIT is warm
// after the warm-up like a browser's); we answer {"event":"ready"} and wait for a line (the caller samples CPU),
// then start every clinician at once (or one after another when `sequential`). With `probes`, we print
// {"event":"probe","step":...} at the start of each flow and after each step and wait for a line before going
// on. Then {"event":"done","results":[...],"cpu_ms":...} (CPU of this process in the round). EOF ends.
import readline from 'node:readline';
import { performance } from 'node:perf_hooks';
import { Browser, traffic } from './browser.mjs';
import { headline, launchId, saveForm, summaryLoaded, summarySources } from './page.mjs';

const input = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function nextLine() {
  const { value, done } = await input.next();
  if (done) throw new Error('stdin closed');
  return value;
}

async function nextJob() {
  const { value, done } = await input.next();
  return done ? null : JSON.parse(value);
}

function emit(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

async function handshake(event) {
  emit(event);
  await nextLine();
}

const seconds = (since) => Math.round(performance.now() - since) / 1000;

/** One clinician's flow; resolves to {timings (s), error}. */
async function flow(job, clinician, probe) {
  const timings = {};
  const instances = job.instances;
  const home = instances[clinician.home % instances.length];
  const appPorts = new Set(instances.map((base) => Number(new URL(base).port)));
  // The load balancer: round robin, request by request, starting at this clinician's home instance (no sticky
  // sessions: /launch, /callback and the pages of one sign-in land on different instances). Every URL of the app
  // goes through it, whichever instance's origin it carries: the public one (the EHR's redirects) or the one a
  // relative Location resolved against (without that, every page and summary landed on the same instance).
  let hop = 0;
  const balance = (url) => {
    const origin = instances.find((base) => url.startsWith(`${base}/`));
    return origin ? instances[(clinician.home + hop++) % instances.length] + url.slice(origin.length) : url;
  };
  const onHome = balance;
  const browser = new Browser({ timeoutMs: job.timeout_ms ?? 60000 });
  let step = 'launch';
  const fail = (error) => ({ timings, error });
  try {
    await probe('start');
    const started = performance.now();
    const query = new URLSearchParams({ patient: clinician.patient, client_id: job.client_id });
    const first = await browser.get(`${job.ehr_base}/ehr/launch?${query}`);
    if (first.status !== 302) return fail(`ehr launch: ${first.status}`);
    const location = new URL(first.headers.location, first.url).href.replace('/launch.html?', '/launch?');
    const page = await browser.follow(await browser.get(onHome(location)), onHome);
    timings.launch = seconds(started);
    await probe('launch');
    const id = launchId(page.url);
    if (page.status !== 200 || !id) return fail(`launch: ${page.status}`);

    const sources = summarySources(page.text);
    if (sources.length > 1) return fail(`summary: ${sources.length} elements with data-summary-src`);
    if (sources.length === 1) {
      step = 'summary';
      const begun = performance.now();
      const summary = await browser.get(balance(new URL(sources[0], page.url).href));
      timings.summary = seconds(begun);
      timings['launch+summary'] = seconds(started);
      // When the record read began (s since the start): the request's arrival plus the waits the app reports.
      const waited = [...(summary.headers['server-timing'] ?? '').matchAll(/(sign-ins-first|record-read-slot);dur=([\d.]+)/g)];
      if (waited.length) {
        timings.summary_read_start = (begun - started) / 1000 + waited.reduce((sum, m) => sum + Number(m[2]), 0) / 1000;
      }
      await probe('summary');
      if (summary.status !== 200) return fail(`summary: ${summary.status}`);
      if (!summaryLoaded(summary.text)) return fail('summary: 200 without data-summary-loaded');
    }
    if (job.launch_only) {
      timings.flow = seconds(started);
      return { timings, error: null };
    }

    step = 'check';
    const fields = new URLSearchParams({ ...clinician.fields, as_of: clinician.as_of, run: '1' });
    let begun = performance.now();
    const checklist = await browser.follow(await browser.get(balance(`${home}/s/${id}/checklist?${fields}`)), balance);
    timings.check = seconds(begun);
    await probe('check');
    if (checklist.status !== 200 || !checklist.text.includes('data-verdict=')) {
      return fail(`check: ${checklist.status}`);
    }

    step = 'save';
    const form = saveForm(checklist.text);
    if (!form) return fail('save: no save form on the checklist');
    begun = performance.now();
    const saved = await browser.follow(
      await browser.post(balance(new URL(form.action, checklist.url).href), form.fields),
      balance,
    );
    timings.save = seconds(begun);
    await probe('save');
    if (saved.status !== 200 || !saved.text.includes('Draft order saved in the EHR')) {
      return fail(`save: ${saved.status} ${headline(saved.text)}`);
    }
    timings.flow = seconds(started);
    return { timings, error: null };
  } catch (error) {
    const side = appPorts.has(error.port ?? browser.lastPort) ? 'app' : 'sandbox';
    const cause = error.code ? `: ${error.code}` : '';
    return fail(`${step}: ${error.name ?? 'Error'} (${side}${cause})`);
  } finally {
    browser.close();
  }
}

async function run(job) {
  const probe = job.probes ? (step) => handshake({ event: 'probe', step }) : async () => {};
  await handshake({ event: 'ready' });
  const before = { ...traffic };
  const cpuBefore = process.cpuUsage();
  const wallStarted = performance.now();
  let results;
  if (job.sequential) {
    results = [];
    for (const clinician of job.clinicians) results.push(await flow(job, clinician, probe));
  } else {
    results = await Promise.all(job.clinicians.map((clinician) => flow(job, clinician, probe)));
  }
  const cpu = process.cpuUsage(cpuBefore);
  emit({
    event: 'done',
    results,
    wall_s: seconds(wallStarted),
    cpu_ms: Math.round((cpu.user + cpu.system) / 100) / 10,
    cpu_user_ms: Math.round(cpu.user / 100) / 10,
    requests: traffic.requests - before.requests,
    connections: traffic.connections - before.connections,
  });
}

async function main() {
  for (let job = await nextJob(); job !== null; job = await nextJob()) await run(job);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
