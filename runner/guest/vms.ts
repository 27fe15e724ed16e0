// Watching each VM Axvisor starts. Axvisor's VMM names every VM it creates and boots:
//   [  0.228317 0:2 axvisor::vmm::config:180] Creating VM[1] "arceos"
//   [  0.231100 0:2 axvisor::vmm:94] VM[1] boot success
//   [  0.231100 0:2 axvisor::vmm:98] VM[2] boot failed, error ...
// A VM is up when it was created under the name its VM config gives, booted, and (when the
// case gives it success patterns) printed a line matching one after its boot. It fails on
// "boot failed", a wrong name, or one of its failure patterns. All VMs share the console,
// so a VM's "first output" is the first line after its boot that is not the hypervisor's
// own log: an upper bound when several VMs print at once.
import type { Console } from '../console/console.js';
import type { LineMatcher } from '../console/expect.js';
import { PatternSet } from '../config/regex.js';
import type { PlannedVm } from '../axvisor/plan.js';
import { GuestFailure, type Verdict } from '../errors.js';
import { shown } from '../config/paths.js';
import { afterHandoff } from './handoff.js';

const CREATED = /Creating VM\[(\d+)\]\s+"([^"]*)"/;
const BOOTED = /VM\[(\d+)\] boot success/;
const BOOT_FAILED = /VM\[(\d+)\] boot failed(?:,\s*(?:error\s*)?(.*))?/;
/** A log line of the hypervisor itself (ArceOS's log format, Axvisor's crates). */
const HYPERVISOR_LOG =
  /^\s*\[\s*\d+\.\d+\s+\d+:\d+\s+(?:axvisor|axvm|axvcpu|axdevice|axaddrspace|arm_vcpu|arm_vgic|axruntime|axhal|axtask|axmm|axalloc|axfs|axdriver)\b/;

export interface VmResult {
  id: number;
  name: string;
  config: string;
  verdict: Verdict;
  reason: string;
  /** Seconds from the hand-off to "Creating VM[id]", to "boot success", and from boot
   * success to the VM's first output and to its success line. */
  created_s?: number;
  booted_s?: number;
  first_output_s?: number;
  up_s?: number;
  matched?: string;
}

interface VmState {
  vm: PlannedVm;
  success: PatternSet;
  fail: PatternSet;
  created?: number;
  booted?: number;
  firstOutput?: number;
  up?: number;
  matched?: string;
  failed?: string;
}

export class VmWatch {
  private states: VmState[];
  private release: () => void;
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private failure?: GuestFailure;
  private onFail?: (e: GuestFailure) => void;

  /** Attach before the boot command: timing starts at the hand-off line. */
  constructor(con: Console, handoff: LineMatcher, vms: PlannedVm[]) {
    this.states = vms.map((vm) => ({ vm, success: new PatternSet(vm.success), fail: new PatternSet(vm.fail) }));
    this.release = afterHandoff(con, handoff, (text, now) => this.line(text, now));
  }

  private byId(id: string): VmState | undefined {
    return this.states.find((s) => s.vm.config.id === Number(id));
  }

  /** One console line, `now` seconds after the hand-off. */
  private line(text: string, now: number): void {
    let m: RegExpExecArray | null;
    if ((m = CREATED.exec(text))) {
      const s = this.byId(m[1]);
      if (s && s.created === undefined) {
        s.created = now;
        if (m[2] !== s.vm.config.name)
          this.fail(
            s,
            `was created as "${m[2]}", but its VM config (${shown(s.vm.config.file)}) names it "${s.vm.config.name}": is the hypervisor built with these VM configs?`,
          );
      }
    } else if ((m = BOOTED.exec(text))) {
      const s = this.byId(m[1]);
      if (s && s.booted === undefined) {
        s.booted = now;
        if (s.vm.success.length === 0) s.up = s.booted;
      }
    } else if ((m = BOOT_FAILED.exec(text))) {
      const s = this.byId(m[1]);
      if (s) this.fail(s, `boot failed${m[2] ? `: ${m[2].trim()}` : ''}`);
    } else if (!HYPERVISOR_LOG.test(text) && text.trim()) {
      for (const s of this.states) {
        if (s.booted === undefined || s.failed) continue;
        s.firstOutput ??= now - s.booted;
        const f = s.fail.firstMatch(text);
        if (f >= 0) {
          this.fail(s, `failure pattern ${JSON.stringify(s.vm.fail[f].source)} matched: ${text.trim()}`);
        } else if (s.up === undefined && s.success.firstMatch(text) >= 0) {
          s.up = now;
          s.matched = text.trim();
        }
      }
    }
    if (this.states.every((s) => s.up !== undefined)) this.settle();
  }

  private label(s: VmState): string {
    return `VM[${s.vm.config.id}] "${s.vm.config.name}"`;
  }

  private fail(s: VmState, why: string): void {
    if (s.failed) return;
    s.failed = why;
    if (this.failure) return;
    this.failure = new GuestFailure(`${this.label(s)} ${why}`);
    this.onFail?.(this.failure);
    this.settle();
  }

  private settle(): void {
    for (const w of this.waiters.splice(0)) this.failure ? w.reject(this.failure) : w.resolve();
  }

  /** Called once, on the first VM failure. */
  onFailure(fn: (e: GuestFailure) => void): void {
    this.onFail = fn;
    if (this.failure) fn(this.failure);
  }

  /** Resolves when every VM is up; rejects on a VM failure or when `signal` aborts. */
  allUp(signal: AbortSignal): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.states.every((s) => s.up !== undefined)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push({
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
    });
  }

  /** What each VM still lacks, for a timeout's reason. */
  pending(): string[] {
    return this.states.filter((s) => s.up === undefined && !s.failed).map((s) => `${this.label(s)} ${this.lacks(s)}`);
  }

  private lacks(s: VmState): string {
    if (s.created === undefined) return `was never created (no "Creating VM[${s.vm.config.id}]" line)`;
    if (s.booted === undefined) return 'was created but never booted (no "boot success" line)';
    return `booted but printed no line matching ${s.vm.success.map((p) => JSON.stringify(p.source)).join(' or ')}`;
  }

  results(): VmResult[] {
    const r = (n?: number) => (n === undefined ? undefined : Math.round(n * 1000) / 1000);
    return this.states.map((s) => ({
      id: s.vm.config.id,
      name: s.vm.config.name,
      config: shown(s.vm.config.file),
      verdict: s.failed ? 'fail' : s.up !== undefined ? 'pass' : 'timeout',
      reason: s.failed ?? (s.up !== undefined ? '' : `undecided when the case ended: ${this.lacks(s)}`),
      created_s: r(s.created),
      booted_s: r(s.booted),
      first_output_s: r(s.firstOutput),
      up_s: r(s.up),
      matched: s.matched,
    }));
  }

  stop(): void {
    this.release();
  }
}
