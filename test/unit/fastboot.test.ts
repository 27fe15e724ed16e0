// The fastboot protocol core over a scripted transport: what each answer means (AOSP's
// protocol.md; U-Boot's fb_command.c), and the UDP framing against a device written from
// U-Boot's net/fastboot.c (query, init, the command held until the next packet, data acked
// empty, a lost answer repeated for the same sequence number).
import assert from 'node:assert/strict';
import { until } from '../helpers.js';
import dgram from 'node:dgram';
import { FastbootGadgetModel } from '../../fixtures/usb/fastboot-device.js';
import { Fastboot, type FastbootTransport, UdpTransport, UsbTransport } from '../../runner/transfer/fastboot.js';

class Scripted implements FastbootTransport {
  readonly name = 'scripted';
  readonly dataRoom = 4;
  sent: Buffer[] = [];
  constructor(private answers: string[]) {}
  async write(d: Buffer) {
    this.sent.push(Buffer.from(d));
  }
  async read() {
    const a = this.answers.shift();
    if (a === undefined) throw new Error('no more answers');
    return Buffer.from(a, 'latin1');
  }
  async close() {}
}

describe('fastboot protocol core', () => {
  it('reads INFO lines up to OKAY, and takes FAIL and garbage as lab errors naming the command', async () => {
    const info: string[] = [];
    const fb = new Fastboot(
      new Scripted(['INFOerasing', 'INFOdone', 'OKAY0.4', 'FAILunknown partition', 'HELLO']),
      (l) => info.push(l),
    );
    assert.deepEqual(await fb.command('getvar:version'), { text: '0.4', info: ['erasing', 'done'] });
    await assert.rejects(fb.command('flash:nope'), {
      message: 'fastboot flash:nope: the device said FAIL unknown partition',
    });
    await assert.rejects(fb.command('getvar:x'), /the device said "HELLO", which is not a fastboot answer/);
    await assert.rejects(fb.command(`getvar:${'x'.repeat(64)}`), /a command is at most 64 bytes/);
  });

  it('downloads: DATA of the same size, the bytes in pieces, then OKAY; a wrong DATA size is refused before sending', async () => {
    const t = new Scripted(['DATA0000000a', 'OKAY']);
    await new Fastboot(t).download(Buffer.from('0123456789'), 4);
    assert.deepEqual(
      t.sent.map((b) => b.toString()),
      ['download:0000000a', '0123', '4567', '89'],
    );
    const wrong = new Scripted(['DATA00000004']);
    await assert.rejects(
      new Fastboot(wrong).download(Buffer.from('0123456789'), 4),
      /DATA00000004: it will take 4 bytes, not 10/,
    );
    assert.equal(wrong.sent.length, 1, 'no data was sent');
  });

  it('runs U-Boot commands by UCmd, else by oem run (U-Boot 2023.04 on), and keeps to the one that worked', async () => {
    // A newer U-Boot without FASTBOOT_UUU_SUPPORT: UCmd is unknown, `oem run` works.
    const t = new Scripted(['FAILUnsupported command', 'OKAY', 'FAIL', 'OKAY']);
    const fb = new Fastboot(t);
    await fb.run('setenv a 1');
    await assert.rejects(fb.run('false'), {
      message: 'fastboot oem run:false: the device said FAIL (no reason given)',
    });
    await fb.run('setenv b 2');
    assert.deepEqual(
      t.sent.map((b) => b.toString()),
      ['UCmd:setenv a 1', 'oem run:setenv a 1', 'oem run:false', 'oem run:setenv b 2'],
    );
    const neither = new Scripted(['FAILunrecognized command', 'FAILunrecognized command']);
    await assert.rejects(
      new Fastboot(neither).run('version'),
      /this U-Boot runs no commands over fastboot \(CONFIG_FASTBOOT_UUU_SUPPORT or CONFIG_FASTBOOT_OEM_RUN\)/,
    );
  });

  it("speaks U-Boot's UDP framing, and survives a lost answer", async () => {
    // A device as net/fastboot.c is: sequence numbers from 1, the command run on the packet
    // after it, download data acked empty; the first answer to packet 3 is "lost".
    const dev = dgram.createSocket('udp4');
    await new Promise<void>((r) => dev.bind(0, '127.0.0.1', () => r()));
    let seqNo = 1;
    let pending: string | undefined;
    let expected = 0;
    let received = 0;
    let dropped = false;
    let last = Buffer.alloc(0);
    let busy = false;
    let written = 0;
    dev.on('message', (m, from) => {
      if (busy) return; // U-Boot writing: nothing is read meanwhile
      const id = m[0]!;
      const seq = m.readUInt16BE(2);
      const body = m.subarray(4);
      const reply = (payload: Buffer) => {
        const p = Buffer.concat([Buffer.from([id, 0, seq >> 8, seq & 0xff]), payload]);
        last = p;
        if (seq === 3 && !dropped) {
          dropped = true; // lost on the way
          return;
        }
        dev.send(p, from.port, from.address);
      };
      if (id === 1) return reply(Buffer.from([seqNo >> 8, seqNo & 0xff]));
      if (seq === seqNo - 1) return dev.send(last, from.port, from.address); // repeat
      if (seq !== seqNo) return;
      seqNo++;
      if (id === 2) return reply(Buffer.from([0, 1, 0x04, 0x00])); // version 1, 1024-byte packets
      if (expected) {
        if (body.length) {
          received += body.length;
          return reply(Buffer.alloc(0));
        }
        if (received === expected) {
          expected = 0;
          return reply(Buffer.from('OKAY'));
        }
      }
      if (pending === undefined) {
        pending = body.toString();
        return reply(Buffer.alloc(0));
      }
      const cmd = pending;
      pending = undefined;
      if (cmd === 'getvar:version') return reply(Buffer.from('OKAY0.4'));
      if (cmd === 'flash:slow') {
        // A long flash: U-Boot's progress callback sends an INFO under the current number
        // and moves it on; the final answer then goes out, unasked, under the next one.
        dev.send(
          Buffer.concat([Buffer.from([3, 0, seq >> 8, seq & 0xff]), Buffer.from('INFOstill writing')]),
          from.port,
          from.address,
        );
        const next = seqNo;
        seqNo++;
        last = Buffer.concat([Buffer.from([3, 0, next >> 8, next & 0xff]), Buffer.from('OKAY')]);
        return dev.send(last, from.port, from.address);
      }
      if (cmd === 'flash:big') {
        // A long write, silent: the answer comes 800 ms later, past 5 tries 100 ms apart.
        busy = true;
        setTimeout(() => {
          busy = false;
          written++;
          reply(Buffer.from('OKAY'));
        }, 800);
        return;
      }
      const dl = /^download:([0-9a-f]{8})$/.exec(cmd);
      if (dl) {
        expected = Number.parseInt(dl[1]!, 16);
        return reply(Buffer.from(`DATA${dl[1]}`));
      }
      reply(Buffer.from('FAILunknown command'));
    });
    const t = await UdpTransport.open('127.0.0.1', (dev.address() as { port: number }).port, {
      timeoutMs: 100,
      tries: 5,
    });
    try {
      assert.equal(t.packetRoom, 1020, "the device's packet size, less the header");
      const fb = new Fastboot(t);
      assert.equal(await fb.getvar('version'), '0.4');
      assert.ok(dropped, 'an answer was lost and the packet sent again');
      await fb.download(Buffer.alloc(5000, 7), t.dataRoom);
      assert.equal(received, 5000);
      // An INFO in the middle of a command shifts the device's numbers; the client follows
      // (the device repeats its answer for the number the client asks next).
      const info: string[] = [];
      const slow = await new Fastboot(t, (l) => info.push(l)).command('flash:slow');
      assert.deepEqual(slow, { text: '', info: ['still writing'] });
      assert.equal(await fb.getvar('version'), '0.4', 'and the next command is in step');
      // A silent long write: the answer is waited for as long as the caller allows.
      await assert.rejects(fb.flash('big'), /no answer to packet \d+ after 5 tries 100 ms apart/);
      await until(() => written === 1, 'the device to finish the write it was given'); // then it answers the next one
      assert.equal(written, 1);
      const again = await UdpTransport.open('127.0.0.1', (dev.address() as { port: number }).port, {
        timeoutMs: 100,
        tries: 5,
      });
      try {
        const patient = new Fastboot(again);
        await patient.flash('big', 3000);
        assert.equal(written, 2, "the OKAY is the device's answer to this write");
        assert.equal(await patient.getvar('version'), '0.4', 'in step after it');
      } finally {
        await again.close();
      }
    } finally {
      await t.close();
      dev.close();
    }
  });
});

describe("fastboot over UDP, a download's data ahead of the answers", () => {
  /**
   * A device that takes packets as net/fastboot.c does (the next number is taken and answered,
   * the number before gets the last answer again, any other is dropped), on a network that
   * delivers an answer only once the packet three after it has arrived, or the message's
   * last (no MORE flag): a client that waits for each answer before the next packet gets
   * nothing until it sends again. `lose` drops the packet, or the answer, of a number once;
   * from the packet numbered `deafFrom` on, it hears nothing more.
   */
  async function device(lose: { packet?: number; answer?: number; deafFrom?: number } = {}) {
    const dev = dgram.createSocket('udp4');
    await new Promise<void>((r) => dev.bind(0, '127.0.0.1', () => r()));
    const s = {
      seqNo: 1,
      expected: 0,
      data: [] as Buffer[],
      repeats: 0,
      held: [] as Buffer[],
      to: { port: 0, address: '' },
    };
    let last = Buffer.alloc(0);
    let pending: string | undefined;
    const deliver = (all: boolean) => {
      while (s.held.length > (all ? 0 : 3)) {
        const p = s.held.shift()!;
        if (p.readUInt16BE(2) === lose.answer) lose.answer = undefined;
        else dev.send(p, s.to.port, s.to.address);
      }
    };
    dev.on('message', (m, from) => {
      s.to = from;
      const id = m[0]!;
      const seq = m.readUInt16BE(2);
      const body = m.subarray(4);
      if (seq === lose.packet) return void (lose.packet = undefined);
      if (lose.deafFrom !== undefined && seq >= lose.deafFrom) return;
      const answer = (payload: Buffer) => {
        last = Buffer.concat([Buffer.from([id, 0, seq >> 8, seq & 0xff]), payload]);
        s.held.push(last);
        deliver(!(m[1]! & 1));
      };
      if (id === 1) return answer(Buffer.from([s.seqNo >> 8, s.seqNo & 0xff]));
      if (seq === s.seqNo - 1) {
        s.repeats++;
        deliver(true);
        return dev.send(last, from.port, from.address);
      }
      if (seq !== s.seqNo) return;
      s.seqNo++;
      if (id === 2) return answer(Buffer.from([0, 1, 0x04, 0x00]));
      if (s.expected && body.length) {
        s.data.push(Buffer.from(body));
        return answer(Buffer.alloc(0));
      }
      if (s.expected) return answer(Buffer.from(Buffer.concat(s.data).length === s.expected ? 'OKAY' : 'FAILshort'));
      if (pending === undefined) {
        pending = body.toString();
        return answer(Buffer.alloc(0));
      }
      const dl = /^download:([0-9a-f]{8})$/.exec(pending);
      pending = undefined;
      if (!dl) return answer(Buffer.from('OKAY0.4'));
      s.expected = Number.parseInt(dl[1]!, 16);
      return answer(Buffer.from(`DATA${dl[1]}`));
    });
    return { s, port: (dev.address() as { port: number }).port, close: () => dev.close() };
  }

  const image = Buffer.from(Array.from({ length: 100 * 1020 + 5 }, (_, i) => (i * 7 + (i >> 10)) & 255));

  it('goes `window` packets ahead, and an answer counts for the packets before it', async () => {
    const d = await device({ answer: 40 });
    // A long packet timeout: any packet sent twice would show as a repeat.
    const t = await UdpTransport.open('127.0.0.1', d.port, { timeoutMs: 5000, window: 8 });
    try {
      await new Fastboot(t).download(image, t.dataRoom);
      assert.deepEqual(Buffer.concat(d.s.data), image, 'every byte, in order');
      assert.equal(d.s.repeats, 0, 'nothing was sent twice: the answer lost was covered by the next one');
      assert.equal(t.window, 8);
    } finally {
      await t.close();
      d.close();
    }
  });

  it('a packet lost: everything unanswered again, and the window halves', async () => {
    const d = await device({ packet: 50 });
    const t = await UdpTransport.open('127.0.0.1', d.port, { timeoutMs: 100, tries: 5, window: 8 });
    try {
      await new Fastboot(t).download(image, t.dataRoom);
      assert.deepEqual(Buffer.concat(d.s.data), image, 'every byte, once, in order');
      assert.equal(t.window, 4);
    } finally {
      await t.close();
      d.close();
    }
  });

  it('a device that goes silent for good in the middle of a download: the error says to try stop and wait', async () => {
    const d = await device({ deafFrom: 30 });
    const t = await UdpTransport.open('127.0.0.1', d.port, { timeoutMs: 20, tries: 3, window: 8 });
    try {
      await assert.rejects(
        new Fastboot(t).download(image, t.dataRoom),
        /no answer to packet 30 after 3 tries 20 ms apart \(it went silent with 8 packets sent ahead: try udp_window = 1 in \[load\.fastboot\]\)/,
      );
    } finally {
      await t.close();
      d.close();
    }
  });

  it('stop and wait (window 1) needs each packet sent twice on this network: the window above is real', async () => {
    const d = await device();
    const t = await UdpTransport.open('127.0.0.1', d.port, { timeoutMs: 10, tries: 50, window: 1 });
    try {
      await new Fastboot(t).download(image, t.dataRoom);
      assert.deepEqual(Buffer.concat(d.s.data), image);
      assert.ok(d.s.repeats >= 100, `${d.s.repeats} packets sent again, of 101`);
    } finally {
      await t.close();
      d.close();
    }
  });
});

describe('fastboot over USB (against a model of U-Boot f_fastboot.c)', () => {
  it('the same protocol core over bulk transfers: variables, a download in large pieces, continue', async () => {
    const dev = new FastbootGadgetModel();
    const t = new UsbTransport(dev);
    const fb = new Fastboot(t);
    assert.equal(await fb.getvar('version'), '0.4');
    assert.equal(await fb.getvar('max-download-size'), '0x08000000');
    const data = Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 17 }, (_, i) => (i * 31) & 255));
    await fb.download(data, t.dataRoom);
    assert.deepEqual(dev.received, data);
    await fb.command('continue');
    assert.ok(dev.exited);
  });

  it('a FAIL (too large, unknown) and a device that has gone are lab errors naming the command', async () => {
    const dev = new FastbootGadgetModel({ bufferSize: 1024 });
    const fb = new Fastboot(new UsbTransport(dev));
    await assert.rejects(fb.download(Buffer.alloc(2048), 4096), {
      message: 'fastboot download:00000800: the device said FAIL data too large',
    });
    await assert.rejects(fb.command('oem run:version'), /the device said FAIL unrecognized command/);
    await fb.command('continue');
    await assert.rejects(fb.getvar('version'), /LIBUSB_ERROR_NO_DEVICE/);
  });
});
