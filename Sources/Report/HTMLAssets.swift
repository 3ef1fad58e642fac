/// The page's inline style sheet and its layout-check script (the page fetches nothing, so both are in it).
enum HTMLAssets {
    static let css = """
    :root{color-scheme:light}
    body{margin:0;background:#fafafa;color:#1a1a1a;font:14px/1.45 "DejaVu Sans","Liberation Sans",Arial,Helvetica,sans-serif}
    main{max-width:1200px;margin:0 auto;padding:12px 20px 40px;background:#fff}
    h1{font-size:24px;margin:8px 0}
    h2{font-size:19px;margin:28px 0 8px;border-bottom:2px solid #ddd;padding-bottom:3px}
    h3{font-size:16px;margin:18px 0 6px}
    nav{margin:6px 0 10px;font-size:13px}
    nav a{color:#0b5394}
    .banner{padding:10px 14px;margin:8px 0;border-radius:4px;font-size:16px}
    .banner.partial{background:#fde2e1;border:2px solid #b3261e;color:#7a1410}
    dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0}
    dl.meta dt{font-weight:bold;color:#444}
    dl.meta dd{margin:0}
    .desc{white-space:pre-wrap}
    .good{color:#1b6e20;font-weight:bold}
    .bad{color:#b3261e;font-weight:bold}
    .cols{display:flex;flex-wrap:wrap;gap:8px 28px;align-items:flex-start}
    .cols>table{max-width:100%}
    .nowrap,tbody th{white-space:nowrap}
    .nowrap code{overflow-wrap:normal}
    table{border-collapse:collapse;margin:10px 0 14px;font-size:13px;max-width:100%}
    caption{text-align:left;font-weight:bold;padding:4px 0;color:#333}
    th,td{border:1px solid #d5d5d5;padding:3px 7px;vertical-align:top;text-align:left}
    thead th{background:#f0f0f0}
    table.kv th{background:#f6f6f6;white-space:nowrap}
    td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
    .sub{font-size:11.5px;color:#555;white-space:nowrap}
    .ci{color:#555}
    .none{color:#999}
    .small{font-size:11.5px}
    td.src,td.caveat{max-width:260px;overflow-wrap:anywhere}
    td.path{max-width:300px;overflow-wrap:anywhere}
    td.events{max-width:260px}
    td.events ul{margin:0;padding-left:16px}
    .reason{font-size:11.5px;color:#7a4b00;max-width:320px}
    .status-ok{color:#1b6e20}
    .status-skipped{color:#7a4b00}
    .status-failed{color:#b3261e;font-weight:bold}
    .ns{display:inline-block;background:#fff1cc;border:1px solid #c98a00;color:#6b4700;border-radius:3px;padding:0 4px;font-size:11px;font-weight:bold}
    tr.na td{color:#777;background:#f7f7f7}
    .na-cell{font-style:italic}
    tr.total td{font-weight:bold}
    .swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border:1px solid #333;vertical-align:baseline}
    figure{margin:14px 0 18px}
    svg.chart{width:100%;max-width:960px;height:auto;display:block;background:#fff;border:1px solid #e5e5e5}
    code{font-family:"DejaVu Sans Mono",monospace;font-size:12px;overflow-wrap:anywhere}
    details{margin:8px 0}
    summary{cursor:pointer;font-weight:bold;color:#0b5394}
    .note{color:#555}
    footer{margin-top:30px;font-size:12px;color:#666}
    """

    /// Runs after load: every SVG text box must lie inside its viewBox and not overlap another text, and no table may
    /// be wider than the page (collapsed <details> are opened for the measurement). The verdict goes to
    /// `document.body.dataset.layoutCheck`: "ok" or what is wrong. The page is complete without it.
    static let layoutScript = """
    (function(){
    function box(svg,inv,t){var b=t.getBBox();var m=t.getScreenCTM();if(!m||(b.width===0&&b.height===0))return null;
    var k=inv.multiply(m);var xs=[],ys=[];[[b.x,b.y],[b.x+b.width,b.y],[b.x,b.y+b.height],[b.x+b.width,b.y+b.height]].forEach(function(c){
    var p=svg.createSVGPoint();p.x=c[0];p.y=c[1];p=p.matrixTransform(k);xs.push(p.x);ys.push(p.y);});
    return {x0:Math.min.apply(null,xs),x1:Math.max.apply(null,xs),y0:Math.min.apply(null,ys),y1:Math.max.apply(null,ys)};}
    function check(){var problems=[];var opened=[];
    document.querySelectorAll('details').forEach(function(d){if(!d.open){d.open=true;opened.push(d);}});
    document.querySelectorAll('svg').forEach(function(svg){var vb=svg.viewBox&&svg.viewBox.baseVal;if(!vb||!vb.width)return;
    var sm=svg.getScreenCTM();if(!sm)return;var inv=sm.inverse();var boxes=[];
    svg.querySelectorAll('text').forEach(function(t){var s=t.textContent.trim();if(!s)return;var r=box(svg,inv,t);if(!r)return;
    if(r.x0<vb.x-0.5||r.y0<vb.y-0.5||r.x1>vb.x+vb.width+0.5||r.y1>vb.y+vb.height+0.5){
    problems.push('#'+svg.id+': text "'+s.slice(0,50)+'" outside the viewBox');}
    boxes.push({r:r,s:s});});
    for(var i=0;i<boxes.length;i++){for(var j=i+1;j<boxes.length;j++){var a=boxes[i].r,b=boxes[j].r;
    var w=Math.min(a.x1,b.x1)-Math.max(a.x0,b.x0),h=Math.min(a.y1,b.y1)-Math.max(a.y0,b.y0);
    if(w>2&&h>3){problems.push('#'+svg.id+': "'+boxes[i].s.slice(0,30)+'" overlaps "'+boxes[j].s.slice(0,30)+'"');}}}});
    var W=document.documentElement.clientWidth;
    document.querySelectorAll('table').forEach(function(t,i){var r=t.getBoundingClientRect();
    if(r.right>W+1||r.left<-1){var c=t.caption?t.caption.textContent.slice(0,40):('table '+i);
    problems.push('table "'+c+'" is '+Math.round(r.width)+' px wide and ends at '+Math.round(r.right)+' px; the page is '+W+' px');}});
    if(document.documentElement.scrollWidth>W+1)problems.push('the page scrolls sideways ('+document.documentElement.scrollWidth+' px > '+W+' px)');
    opened.forEach(function(d){d.open=false;});
    document.body.dataset.pageHeight=String(document.documentElement.scrollHeight);
    document.body.dataset.layoutCheck=problems.length?problems.join('; '):'ok';}
    if(document.readyState==='complete'){check();}else{window.addEventListener('load',check);}
    })();
    """
}
