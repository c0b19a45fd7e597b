// Runs `start`: a synchronous throw becomes a rejection, as in an async function.
export function rejecting<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start()
  } catch (error) {
    return Promise.reject(error)
  }
}
