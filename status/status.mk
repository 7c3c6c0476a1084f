# The status page's browser test needs Debian's chromium, and a Korean font
# so that the page's Korean text renders (the test reads the screenshot).
DEB_BROWSER := chromium fonts-nanum

.PHONY: deps-browser
deps-browser: ## install chromium and a Korean font for the status page's browser test
	$(call install-debs,$(DEB_BROWSER))
