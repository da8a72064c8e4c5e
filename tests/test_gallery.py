"""The front page: every paper has one card, in one theme, linking to its tab, with its
headline figure read from results/ and a thumbnail."""
import re

from demos import PAPERS, TABS, gallery
from papers import results


def test_every_paper_has_exactly_one_card_in_one_theme():
    themed = gallery.themed_slugs()
    assert sorted(themed) == sorted(slug for slug, _, _ in PAPERS)
    assert len(themed) == len(set(themed)) == 17


def test_every_card_links_to_its_tab():
    page = gallery.page_html()
    links = re.findall(r'href="\?tab=([a-z-]+)"', page)
    assert sorted(links) == sorted(d.slug for d in TABS)


def test_every_card_shows_a_measured_figure_from_results_and_a_thumbnail():
    for slug in gallery.themed_slugs():
        found = gallery.headline_claim(slug)
        assert found is not None, f"{slug}: no results/{slug}.json"
        assert results.figure(slug, found["id"]) in gallery.headline(slug)
        assert gallery.seeds_in(results.figure(slug, found["id"]), "zh-CN") in gallery.headline(slug, "zh-CN")
        assert gallery.thumbnail_path(slug).is_file(), f"{slug}: run python -m demos.thumbnails {slug}"


def test_first_image_finds_images_in_handler_outputs():
    import numpy as np
    from demos.thumbnails import first_image

    picture = np.zeros((40, 50, 3), np.uint8)
    assert first_image(("text", None, {"value": picture})).size == (50, 40)
    assert first_image(("text", [1, 2])) is None


def test_every_chosen_headline_is_a_stored_claim_with_the_chosen_baseline():
    for slug in gallery.HEADLINES:
        claim_id, baseline = gallery._headline_entry(slug)
        found = results.claim(slug, claim_id)
        assert found, f"{slug}: no claim {claim_id} in results/{slug}.json"
        assert baseline is None or baseline in found["baselines"], f"{slug}: {claim_id} has no baseline {baseline}"
        if baseline:
            assert found["labels"].get(baseline, baseline) in gallery.headline(slug)
