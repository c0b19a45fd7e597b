// Regenerates docs/dashboard.png (npm run docs:dashboard): the scene spec/dashboard.spec.ts tests,
// with some traffic, photographed once its charts hold 20 seconds of readings.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { assertBuilt } from '../../spec/fixtures/cli-run.ts'
import {
  CHROMIUM,
  buildScene,
  hasChromium,
  launchBrowser,
  openDashboard,
} from '../../spec/fixtures/dashboard-scene.ts'

const OUTPUT = fileURLToPath(new URL('../dashboard.png', import.meta.url))
const READINGS = 20

if (!hasChromium()) {
  process.stderr.write(`${CHROMIUM} is missing: apt-get install chromium\n`)
  process.exit(1)
}
assertBuilt()
const dir = mkdtempSync(join(tmpdir(), 'zstate-dashboard-'))
try {
  const scene = await buildScene(dir, { children: 3 })
  const traffic = scene.traffic()
  try {
    const browser = await launchBrowser()
    try {
      const page = await openDashboard(browser, scene.url)
      // In the page (no DOM types here): the count app.js keeps on <body data-samples>.
      const enough = (n: number): boolean => Number((globalThis as any).document.body.dataset.samples) >= n
      await page.waitForFunction(enough, READINGS, { timeout: (READINGS + 30) * 1000 })
      await page.screenshot({ path: OUTPUT, fullPage: true })
      process.stdout.write(`wrote ${OUTPUT}\n`)
    } finally {
      await browser.close()
    }
  } finally {
    await traffic.stop()
    await scene.close()
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
