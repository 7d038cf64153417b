def make_messy(tables, *, seed=0): raise NotImplementedError
