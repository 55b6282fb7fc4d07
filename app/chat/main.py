"""The chat's entry script (``streamlit run app/chat/main.py``, or ``tiller chat``)."""

import streamlit as st

st.set_page_config(page_title="Tiller", page_icon=":material/sailing:", layout="wide")
pages = [
    st.Page("pages/chat.py", title="Chat", icon=":material/chat:", default=True),
    st.Page("pages/portfolio.py", title="Portfolio", icon=":material/account_balance:"),
    st.Page("pages/risk.py", title="Risk", icon=":material/shield:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
]
st.navigation(pages).run()
