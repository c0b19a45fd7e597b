// map() target: one heavy item.
import { heavy } from './work.mjs'

export default (_ctx, n) => heavy(n)
