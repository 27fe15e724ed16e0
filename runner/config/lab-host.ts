// A board file's [lab_host] table: the machine a board is wired to, reached over SSH
// (runner/remote/lab-host.ts connects to it).
import os from 'node:os';
import { z } from 'zod';

const hostSpec = z.string().regex(/^(?:[^@\s]+@)?(?:\[[^\]]+\]|[^:\s@]+)(?::\d+)?$/, 'give [user@]host[:port]');

export const labHostSchema = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(22),
    user: z.string().min(1).default(os.userInfo().username),
    /** A private key file; omitted, the SSH agent (SSH_AUTH_SOCK). */
    identity_file: z.string().min(1).optional(),
    /** The key's passphrase: write it as ${secret:NAME} so it is masked everywhere. */
    passphrase: z.string().optional(),
    known_hosts: z.string().min(1).default('~/.ssh/known_hosts'),
    /** Hosts to connect through, in order ([user@]host[:port]), as ssh's -J. */
    jump: z.array(hostSpec).default([]),
    /** Seconds to wait for each connection. */
    connect_timeout: z.number().positive().default(10),
    /** The folder on the lab host where its boards' leases are kept: every machine that
     * drives them through this host shares it. */
    lease_dir: z.string().min(1).default('/tmp/axvisor-hil-leases'),
  })
  .strict();

export type LabHostSettings = z.infer<typeof labHostSchema>;
