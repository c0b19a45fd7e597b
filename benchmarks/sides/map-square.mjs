// map() target: square one item.
import { square } from './work.mjs'

export default (_ctx, x) => square(x)
