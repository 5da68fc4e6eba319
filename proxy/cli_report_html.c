// SPDX-License-Identifier: GPL-2.0-only
/*
 * The dependency map: the report's JSON goes into the page as data, and a
 * small script draws it as SVG in the browser (one row per process, indented
 * under its parent, the names it looked up as chips after it), so the page
 * needs no network and no build step. '<' in the data is written as \u003c:
 * a command line holding "</script>" cannot end the script early.
 */
#include "cli_report_html.h"

#include <errno.h>
#include <string.h>

static const char head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>depfence dependency map</title>\n<style>\n"
    "body{font:14px system-ui,sans-serif;margin:0;background:#fafafa;color:#222}\n"
    "header{padding:12px 16px;background:#1f2933;color:#fff}\n"
    "header h1{font-size:18px;margin:0 0 4px}\n"
    "#meta{font-size:13px;opacity:.85}\n"
    "#bar{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:8px 16px;"
    "display:flex;gap:16px;align-items:center;z-index:1}\n"
    "#q{font-size:14px;padding:4px 8px;width:320px}\n"
    ".legend span{display:inline-block;padding:1px 8px;margin-right:6px;border-radius:9px;"
    "font:12px monospace}\n"
    ".l-blocked{background:#d64545;color:#fff}.l-would{border:2px dashed #e08a00;color:#8a5200}"
    ".l-allowed{border:1px solid #3f9142;color:#2b6b2e}.l-packet{background:#7a1f1f;color:#fff}\n"
    "#summary{padding:8px 16px;font-size:13px}\n#summary b.blocked{color:#d64545}"
    "#summary b.would{color:#b36b00}\n"
    "#map{padding:8px 16px}\nsvg text{font:12px monospace}\n"
    "svg .row.dim{opacity:.15}\nsvg .hit rect{stroke:#1565c0;stroke-width:3}\n"
    "svg .edge{stroke:#9aa5b1;fill:none}\nsvg .node{fill:#52606d}\n"
    "svg .node.asked{fill:#1f2933}\n"
    "</style></head><body>\n<header><h1>depfence dependency map</h1><div id=\"meta\"></div>"
    "</header>\n<div id=\"bar\"><input id=\"q\" type=\"search\" placeholder=\"search names "
    "and commands\" aria-label=\"search\"><span class=\"legend\"><span class=\"l-blocked\">"
    "blocked</span><span class=\"l-would\">would be blocked (audit)</span><span "
    "class=\"l-allowed\">allowed</span><span class=\"l-packet\">packet refused</span></span>"
    "</div>\n<div id=\"summary\"></div>\n<div id=\"map\"></div>\n"
    "<script type=\"application/json\" id=\"report\">";

static const char tail[] =
    "</script>\n<script>\n"
    "(function(){\n"
    "var R=JSON.parse(document.getElementById('report').textContent);\n"
    "var NS='http://www.w3.org/2000/svg',ROW=24,CH=7.3,IND=18,CMDMAX=64;\n"
    "function el(n,a,p){var e=document.createElementNS(NS,n);for(var k in a)"
    "e.setAttribute(k,a[k]);if(p)p.appendChild(e);return e;}\n"
    "function txt(s){return document.createTextNode(s);}\n"
    "var run=R.run||{};\n"
    "document.getElementById('meta').textContent=(run.kind||'run')+' '+(run.id||'?')+"
    "' \\u2022 policy '+run.policy+' ('+run.mode+') \\u2022 '+(run.start||'')+' \\u2192 '+"
    "(run.end||'running')+(run.exit_status!=null?' \\u2022 exit '+run.exit_status:'')+"
    "(R.truncated?' \\u2022 TRUNCATED':'');\n"
    "var procs={},order=[],kids={},byPid={};\n"
    "(R.processes||[]).forEach(function(p){procs[p.pid]=p;byPid[p.pid]=[];});\n"
    "var loose=[];\n"
    "(R.names||[]).forEach(function(n){var seen=false;(n.asked_by||[]).forEach(function(a){"
    "if(byPid[a.pid]){byPid[a.pid].push(n);seen=true;}});if(!seen)loose.push(n);});\n"
    "var refs={};(R.refusals||[]).forEach(function(f){(refs[f.pid]=refs[f.pid]||[]).push(f);});\n"
    "var roots=[];Object.keys(procs).forEach(function(k){var p=procs[k];"
    "if(procs[p.ppid]&&p.ppid!==p.pid)(kids[p.ppid]=kids[p.ppid]||[]).push(p);else "
    "roots.push(p);});\n"
    "function bystart(a,b){return (a.start||'')<(b.start||'')?-1:(a.start||'')>(b.start||'')?1:"
    "a.pid-b.pid;}\n"
    "roots.sort(bystart);\n"
    "function walk(p,d){order.push({p:p,d:d});(kids[p.pid]||[]).sort(bystart).forEach("
    "function(c){walk(c,d+1);});}\n"
    "roots.forEach(function(r){walk(r,0);});\n"
    "if(loose.length)order.push({p:{pid:0,ppid:0,cmd:'(no process named)'},d:0});byPid[0]=loose;\n"
    "var nb=0,nw=0,na=0;(R.names||[]).forEach(function(n){if(n.verdict==='blocked')nb++;"
    "else if(n.verdict==='would-block')nw++;else na++;});\n"
    "var S=document.getElementById('summary');\n"
    "S.innerHTML='';S.appendChild(txt(order.length+' processes, '+(R.names||[]).length+' names: "
    "'));\n"
    "function b(c,s){var e=document.createElement('b');e.className=c;e.textContent=s;"
    "S.appendChild(e);}\n"
    "b('blocked',nb+' blocked');S.appendChild(txt(', '));b('would',nw+' would be blocked');"
    "S.appendChild(txt(', '+na+' allowed, '+(R.refusals||[]).length+' packet refusals.'));\n"
    "var width=800,rowsG=[];\n"
    "var svg=el('svg',{role:'img','aria-label':'process tree'},document.getElementById('map'));\n"
    "var edges=el('g',{},svg),pos={};\n"
    "order.forEach(function(o,i){\n"
    " var p=o.p,y=i*ROW+16,x=8+o.d*IND;pos[p.pid]={x:x,y:y};\n"
    " var g=el('g',{'class':'row'},svg);g.dataset.text=((p.cmd||'')+' '+p.pid).toLowerCase();\n"
    " var par=pos[p.ppid];if(par&&p.ppid!==p.pid)el('path',{'class':'edge',d:'M'+par.x+' '+"
    "par.y+' V'+y+' H'+x},edges);\n"
    " el('circle',{'class':'node'+(p.asked?' asked':''),cx:x,cy:y,r:4},g);\n"
    " var cmd=p.cmd||'?';if(cmd.length>CMDMAX)cmd=cmd.slice(0,CMDMAX-1)+'\\u2026';\n"
    " var label=(p.pid?p.pid+' ':'')+cmd,t=el('text',{x:x+10,y:y+4},g);t.appendChild(txt(label));\n"
    " el('title',{},t).appendChild(txt((p.cmd||'')+(p.exe?'\\n'+p.exe:'')+"
    "(p.start?'\\nstarted '+p.start:'')));\n"
    " var cx=x+10+label.length*CH+12;\n"
    " function chip(s,cls,tip){var w=s.length*CH+14,c=el('g',{'class':'chip'},g);\n"
    "  var st=cls==='blocked'?{fill:'#d64545',stroke:'#d64545'}:cls==='would'?{fill:'#fff4e0',"
    "stroke:'#e08a00','stroke-dasharray':'4 2','stroke-width':2}:cls==='packet'?{fill:'#7a1f1f',"
    "stroke:'#7a1f1f'}:{fill:'#fff',stroke:'#3f9142'};\n"
    "  st.x=cx;st.y=y-9;st.width=w;st.height=18;st.rx=9;el('rect',st,c);\n"
    "  var tt=el('text',{x:cx+7,y:y+4,fill:cls==='blocked'||cls==='packet'?'#fff':cls==='would'?"
    "'#8a5200':'#2b6b2e'},c);tt.appendChild(txt(s));el('title',{},c).appendChild(txt(tip));\n"
    "  c.dataset.text=s.toLowerCase();cx+=w+6;g.dataset.text+=' '+s.toLowerCase();}\n"
    " (byPid[p.pid]||[]).forEach(function(n){chip(n.name,n.verdict==='blocked'?'blocked':"
    "n.verdict==='would-block'?'would':'allowed',n.name+' \\u2014 '+n.verdict+' by '+n.rule+', '+"
    "n.count+'\\u00d7'+((n.addresses||[]).length?'\\n'+n.addresses.join(' '):''));});\n"
    " (refs[p.pid]||[]).forEach(function(f){chip(f.what,'packet',f.reason+' \\u2014 '+"
    "(f.blocked?'refused':'would be refused')+' by '+f.rule+', '+f.count+'\\u00d7');});\n"
    " width=Math.max(width,cx+20);rowsG.push(g);\n"
    "});\n"
    "svg.setAttribute('width',width);svg.setAttribute('height',order.length*ROW+24);\n"
    "var q=document.getElementById('q');\n"
    "q.addEventListener('input',function(){var s=q.value.trim().toLowerCase();\n"
    " rowsG.forEach(function(g){var m=!s||g.dataset.text.indexOf(s)>=0;"
    "g.classList.toggle('dim',!m);\n"
    "  Array.prototype.forEach.call(g.querySelectorAll('.chip'),function(c){"
    "c.classList.toggle('hit',!!s&&c.dataset.text.indexOf(s)>=0);});});});\n"
    "})();\n</script>\n</body></html>\n";

int report_html_write(FILE *out, json_object *rep)
{
	const char *s = json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE);

	fputs(head, out);
	for (; *s; s++) {
		if (*s == '<')
			fputs("\\u003c", out);
		else
			fputc(*s, out);
	}
	fputs(tail, out);
	return fflush(out) == 0 && !ferror(out) ? 0 : -EIO;
}
