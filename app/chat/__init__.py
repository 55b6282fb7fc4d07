"""The Streamlit chat (`tiller chat`): ask with citations, describe a strategy and see it
backtested, run the agents and approve what they propose; the portfolio, the risk state
and every run's record. It renders what ``app/services`` return and holds no domain
logic of its own."""
