// End-to-end tests of the page's polish (issue 9), registered by demo.e2e.mjs on the same page:
// copy reasons in the table, names truncated in the middle, AA contrast of copied rows, the
// phone layout (sticky name column, readable plot text at 390 px), card numbers in order, the
// scroll to the plots, one-line help for the HQQ options, the "most different" group (checked
// against the package in Node), and what screen readers get (aria-live progress, a labelled
// <progress>, announced row selection).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assert, assertEqual } from './harness.mjs';

/** WCAG relative luminance contrast of two "rgb(a)(...)" colours. */
function contrast(a, b) {
  const lum = (c) => {
    const [r, g, bl] = c.match(/[\d.]+/g).slice(0, 3).map(Number).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

export function registerPolishTests(t, ctx) {
  const { page, sample, dist, rowsInfo, runAndWait, loadSample, waitAttr, pkg } = ctx;

  t.test('table: copy reasons are visible, long names are cut in the middle (full name in the title), copied rows pass AA contrast', async () => {
    await loadSample();
    await runAndWait();
    const rows = await rowsInfo();
    const copied = rows.filter((r) => r.action !== 'quantize');
    assert(copied.length >= 5, `copied rows: ${copied.length}`);
    for (const r of copied) {
      assert(r.reason && r.reason.length > 5, `${r.name}: reason shown (${r.reason})`);
      assert(await page.isVisible(`#results tbody tr[data-name="${r.name}"] .reason`), `${r.name}: the reason is visible without hovering`);
    }
    const long = rows.filter((r) => r.name.length > 44);
    assert(long.length > 0, 'the sample has names longer than 44 characters');
    for (const r of long) {
      const shown = r.cells[0];
      const [head, tail] = shown.split('…');
      assert(shown.length === 44 && tail !== undefined, `${r.name}: shown as ${shown}`);
      assert(r.name.startsWith(head) && r.name.endsWith(tail) && tail.length >= 15, `${r.name}: both ends kept (${shown})`);
      assertEqual(r.title, r.name, `${r.name}: full name in the title`);
    }
    for (const r of rows.filter((x) => x.name.length <= 44)) assertEqual(r.cells[0], r.name, `${r.name} shown whole`);
    const colours = await page.$$eval('#results tbody tr.copied td', (tds) => tds.map((td) => {
      let e = td;
      let bg = 'rgba(0, 0, 0, 0)';
      while (e && /rgba\(.*, 0\)|transparent/.test(bg)) {
        bg = getComputedStyle(e).backgroundColor;
        e = e.parentElement;
      }
      return [getComputedStyle(td).color, bg];
    }));
    let worst = Infinity;
    for (const [fg, bg] of colours) worst = Math.min(worst, contrast(fg, bg));
    assert(worst >= 4.5, `copied rows: worst text contrast ${worst.toFixed(2)}:1 (AA needs 4.5:1)`);
    const reasonColours = await page.$$eval('#results tbody tr.copied .reason', (es) => es.map((e) => getComputedStyle(e).color));
    for (const c of reasonColours) assert(contrast(c, 'rgb(255, 255, 255)') >= 4.5, `reason text contrast ${contrast(c, 'rgb(255, 255, 255)').toFixed(2)}`);
    console.log(`       copied rows: text contrast ${worst.toFixed(2)}:1`);
  });

  t.test('one-line help for group size, axis and compute dtype; cards numbered in order', async () => {
    for (const id of ['opt-group', 'opt-axis', 'opt-dtype']) {
      const help = await page.$eval(`#${id}`, (e) => {
        const ids = (e.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean);
        return ids.map((h) => document.getElementById(h)).filter(Boolean).map((h) => ({ text: h.textContent.trim(), height: h.getBoundingClientRect().height, line: parseFloat(getComputedStyle(h).lineHeight) }));
      });
      assertEqual(help.length, 1, `#${id} is described by one help text`);
      assert(help[0].text.length > 20 && help[0].text.length < 110, `#${id} help: ${help[0].text}`);
      assert(help[0].height > 0, `#${id}: help visible`);
    }
    await page.click('#results tbody tr[data-name="model.layers.0.self_attn.q_proj.weight"]');
    await waitAttr('#plots-card[data-state="ready"]', 30_000);
    const steps = await page.$$eval('.card h2 .step', (ss) => ss.map((s) => Number(s.textContent)));
    assertEqual(JSON.stringify(steps), JSON.stringify([1, 2, 3, 4, 5]), 'card numbers in document order');
  });

  t.test('a row click scrolls to the plots, selects the row for screen readers (aria-selected + live region)', async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    const name = 'model.layers.1.mlp.up_proj.weight';
    await page.click(`#results tbody tr[data-name="${name}"]`);
    await waitAttr('#plots-card[data-state="ready"]', 30_000);
    await page.waitForTimeout(200);
    const { top, bottom } = await page.$eval('#plots-card', (e) => e.getBoundingClientRect().toJSON());
    const vh = await page.evaluate(() => innerHeight);
    // At the top of the viewport, or wholly in view where the page ends below it.
    assert(top >= -1 && (top < vh / 3 || bottom <= vh + 1), `the plots card is scrolled into view (top ${top.toFixed(0)}, bottom ${bottom.toFixed(0)} of ${vh})`);
    assertEqual(await page.getAttribute('#results', 'role'), 'grid', 'the table is a grid (aria-selected applies to its rows)');
    const sel = await page.$$eval('#results tbody tr', (trs) => trs.filter((tr) => tr.getAttribute('aria-selected') === 'true').map((tr) => tr.dataset.name));
    assertEqual(JSON.stringify(sel), JSON.stringify([name]), 'exactly the clicked row is selected');
    assertEqual(await page.getAttribute('#selection-live', 'aria-live'), 'polite', 'selection live region');
    assert((await page.textContent('#selection-live')).includes(name), 'the selection is announced');
    // Keyboard: Enter on a focused row selects it too.
    const other = 'model.layers.0.mlp.gate_proj.weight';
    await page.focus(`#results tbody tr[data-name="${other}"]`);
    await page.keyboard.press('Enter');
    await page.waitForFunction((n) => document.querySelector('#selection-live').textContent.includes(n), other);
  });

  t.test('"most different" jumps to the group where HQQ and round-to-nearest differ most (checked in Node)', async () => {
    const name = 'model.layers.1.mlp.down_proj.weight';
    await page.click(`#results tbody tr[data-name="${name}"]`);
    await waitAttr('#plots-card[data-state="ready"]', 30_000);
    await page.click('#group-different');
    await page.waitForFunction(() => document.querySelector('#plots-card').dataset.group === 'different' && document.querySelector('#plots-card').dataset.state === 'ready');
    const shown = Number(await page.inputValue('#group-index'));
    const label = await page.getAttribute('#plots svg.plot >> nth=2', 'aria-label');
    assert(label.startsWith(`Group ${shown} `) && label.includes('most different'), `group plot: ${label}`);
    // The same computation with the package in Node.
    const { loadHQQ } = await pkg('node.js');
    const { openSafetensors } = await pkg('io/safetensors.js');
    const { bytesSource } = await pkg('io/source.js');
    const s = sample.tensors.find((x) => x.name === name);
    const f = await openSafetensors(bytesSource(new Uint8Array(await readFile(join(dist, 'sample', s.shard))), s.shard));
    const b = await f.readTensor(name);
    const hqq = await loadHQQ();
    const input = new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    const opts = { nbits: 4, groupSize: 64, axis: 1, roundZero: true, dtype: 'f16' };
    const wh = hqq.dequantize(hqq.quantize(input, s.shape, { ...opts, optimize: true }));
    const wr = hqq.dequantize(hqq.quantize(input, s.shape, { ...opts, optimize: false }));
    let best = -1;
    let at = -1;
    for (let g = 0; g < wh.length / 64; g++) {
      let d = 0;
      for (let i = g * 64; i < g * 64 + 64; i++) d += Math.abs(wh[i] - wr[i]);
      if (d > best) {
        best = d;
        at = g;
      }
    }
    assertEqual(shown, at, 'the most different group');
    await page.click('#group-widest');
    await page.waitForFunction(() => document.querySelector('#plots-card').dataset.group === 'widest');
  });

  t.test('phone (390 px): the name column stays in view while the table scrolls; plot text stays readable', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.waitForTimeout(400); // the plots re-render for the new width
      await loadSample();
      await runAndWait();
      const name = 'model.layers.0.self_attn.q_proj.weight';
      const before = await page.$eval(`#results tbody tr[data-name="${name}"] td.name`, (td) => ({ left: td.getBoundingClientRect().left, pos: getComputedStyle(td).position, text: td.textContent, shape: td.nextElementSibling.getBoundingClientRect().left }));
      assertEqual(before.pos, 'sticky', 'name cells are sticky on phones');
      assert(before.text.length <= 32, `names are shorter on phones: ${before.text}`);
      const scrolled = await page.$eval('#table-wrap', (w) => {
        w.scrollLeft = 400;
        return w.scrollLeft;
      });
      assert(scrolled > 100, `the table scrolls sideways (${scrolled})`);
      const after = await page.$eval(`#results tbody tr[data-name="${name}"] td.name`, (td) => td.getBoundingClientRect().left);
      const wrapLeft = await page.$eval('#table-wrap', (w) => w.getBoundingClientRect().left);
      assert(Math.abs(after - before.left) < 2 && after >= wrapLeft - 1, `the name column stays put (${before.left} -> ${after})`);
      const shape = await page.$eval(`#results tbody tr[data-name="${name}"] td.name + td`, (td) => td.getBoundingClientRect().left);
      assert(Math.abs(before.shape - shape - scrolled) < 2, `the other columns scrolled (${before.shape} -> ${shape})`);
      await page.click(`#results tbody tr[data-name="${name}"] td.name`);
      await waitAttr('#plots-card[data-state="ready"]', 30_000);
      const sizes = await page.$$eval('#plots svg.plot text', (ts) => ts.filter((t) => t.textContent.trim()).map((t) => t.getBoundingClientRect().height));
      const smallest = Math.min(...sizes);
      assert(sizes.length > 20 && smallest >= 10, `plot text at 390 px: smallest ${smallest.toFixed(1)} px (${sizes.length} labels)`);
      const widths = await page.$$eval('#plots svg.plot', (ss) => ss.map((s) => s.getBoundingClientRect().right));
      assert(widths.every((r) => r <= 390), `plots fit the screen: ${widths}`);
      console.log(`       390 px: smallest plot text ${smallest.toFixed(1)} px`);
      await page.screenshot({ path: join(ctx.artifacts, 'demo-phone.png'), fullPage: true });
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.waitForTimeout(300);
    }
  });

  t.test('screen readers: a labelled <progress>, an aria-live progress line that changes during a run', async () => {
    const label = await page.$eval('#progress', (p) => [...p.labels].map((l) => l.textContent.trim()).join(' '));
    assert(label.length > 5, `<progress> has a label: ${label}`);
    assertEqual(await page.getAttribute('#progress-text', 'aria-live'), 'polite', 'progress line is aria-live');
    const seen = new Set();
    await page.exposeFunction('__progressSeen', (s) => seen.add(s));
    await page.evaluate(() => {
      new MutationObserver(() => window.__progressSeen(document.querySelector('#progress-text').textContent)).observe(document.querySelector('#progress-text'), { childList: true, characterData: true, subtree: true });
    });
    await runAndWait();
    const lines = [...seen];
    assert(lines.some((l) => /\d+% · \d+ of \d+ tensors/.test(l)), `progress announced: ${lines.join(' | ')}`);
    assert(lines.length <= 30, `announcements are throttled (${lines.length})`);
  });
}
